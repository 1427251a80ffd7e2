"""Writes of users and their roles."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from deltran.roles import ADMIN, ROLES


def roles_ensure() -> None:
    for role in ROLES:
        Group.objects.get_or_create(name=role)


@transaction.atomic
def user_ensure(*, username: str, password: str, role: str, email: str = "") -> tuple[object, bool]:
    """Create a user in one role if the username is free; an existing user is left as is."""
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; roles are {', '.join(ROLES)}.")
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user, False
    roles_ensure()
    user = User.objects.create_user(
        username=username, password=password, email=email, is_staff=(role == ADMIN), is_superuser=(role == ADMIN)
    )
    user.groups.add(Group.objects.get(name=role))
    return user, True
