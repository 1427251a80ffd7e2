"""The role matrix: every URL pattern of the project, with every role and anonymous, against docs/roles.md.

The table in docs/roles.md is the single source. A route without a row fails, a row without a route fails,
and every listed method is sent by an anonymous client, a signed-in user without a role and one user of each
role; each answer must be "refused" exactly when the row does not name that caller.
"""

import logging
import re
import uuid
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter, PathConverter, StringConverter, UUIDConverter
from django.urls.resolvers import RegexPattern, RoutePattern
from rest_framework.test import APIClient

from deltran.roles import ROLES
from tests.conftest import jwt_client

pytestmark = pytest.mark.django_db

DOC = Path(settings.BASE_DIR) / "docs" / "roles.md"
ANONYMOUS = "anonymous"
NO_ROLE = "signed-in without a role"
CALLERS = (ANONYMOUS, NO_ROLE, *ROLES)
MODEL_MAY_REFUSE = ", where the model allows"
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
# Routes whose request ends the caller's session; the walk logs the caller in again after them.
ENDS_THE_SESSION = {"logout", "admin:logout"}


# --- The table ------------------------------------------------------------------------------------


@dataclass
class Row:
    line: int
    routes: list[str]
    methods: list[str]
    who: frozenset[str]
    # The admin's model permissions may refuse the roles in `who` as well (read-only models).
    model_may_refuse: bool = False
    used: bool = False


def parse_who(cell: str, line: int) -> frozenset[str]:
    cell = cell.strip()
    if cell == "anyone":
        return frozenset(CALLERS)
    if cell == "signed-in":
        return frozenset(CALLERS) - {ANONYMOUS}
    if cell == "any role":
        return frozenset(ROLES)
    names = [name.strip() for name in cell.split(",")]
    unknown = [name for name in names if name not in ROLES]
    assert not unknown, f"docs/roles.md line {line}: unknown role(s) {unknown}; roles are {ROLES}"
    return frozenset(names)


def table_rows() -> list[Row]:
    rows = []
    for number, text in enumerate(DOC.read_text().splitlines(), start=1):
        if not text.startswith("| `"):
            continue
        cells = [cell.strip() for cell in text.strip().strip("|").split("|")]
        assert len(cells) >= 3, f"docs/roles.md line {number}: a row needs route, methods and who"
        routes = re.findall(r"`([^`]+)`", cells[0])
        methods = [method.strip().upper() for method in cells[1].split(",")]
        assert set(methods) <= METHODS, f"docs/roles.md line {number}: unknown method in {cells[1]!r}"
        who, model_may_refuse = cells[2], cells[2].endswith(MODEL_MAY_REFUSE)
        who = who.removesuffix(MODEL_MAY_REFUSE)
        rows.append(
            Row(
                line=number,
                routes=routes,
                methods=methods,
                who=parse_who(who, number),
                model_may_refuse=model_may_refuse,
            )
        )
    assert rows, "docs/roles.md has no route rows"
    return rows


def rule_for(key: str, rows: list[Row]) -> dict[str, Row]:
    """{method: row} for a route key: exact rows first; else the longest matching pattern's rows."""
    exact = [row for row in rows if key in row.routes]
    if exact:
        chosen = exact
    else:
        best = None
        for row in rows:
            for pattern in row.routes:
                if "*" in pattern and fnmatchcase(key, pattern) and (best is None or len(pattern) > len(best)):
                    best = pattern
        chosen = [row for row in rows if best in row.routes] if best else []
    rule: dict[str, Row] = {}
    for row in chosen:
        row.used = True
        for method in row.methods:
            assert method not in rule, f"{key}: {method} is in two rows (lines {rule[method].line}, {row.line})"
            rule[method] = row
    return rule


# --- The URL patterns -------------------------------------------------------------------------------


@dataclass
class Route:
    key: str  # the URL name, or the route when the pattern has none
    route: str
    name: str | None
    converters: dict = field(default_factory=dict)
    regex_groups: dict = field(default_factory=dict)


def walk(resolver: URLResolver, prefix: str = "", namespace: str | None = None, converters=None, groups=None):
    converters, groups = dict(converters or {}), dict(groups or {})
    for entry in resolver.url_patterns:
        pattern = entry.pattern
        here_converters, here_groups = dict(converters), dict(groups)
        if isinstance(pattern, RoutePattern):
            here_converters.update(pattern.converters)
        elif isinstance(pattern, RegexPattern):
            here_groups.update(re.findall(r"\(\?P<(\w+)>([^)]*)\)", pattern._regex))
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace or namespace
            yield from walk(entry, prefix + str(pattern), inner, here_converters, here_groups)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            route = prefix + str(pattern)
            yield Route(key=name or route, route=route, name=name, converters=here_converters, regex_groups=here_groups)


SAMPLES = {
    IntConverter: "987654",
    UUIDConverter: str(uuid.UUID(int=987654)),
    StringConverter: "ZZZZZZZZXXX",
    PathConverter: "987654",
}


def sample_url(route: Route) -> str:
    kwargs = {name: SAMPLES.get(type(converter), "987654") for name, converter in route.converters.items()}
    for name, alternatives in route.regex_groups.items():
        # An admin app list's group is an alternation of app labels: take the first.
        kwargs[name] = alternatives.split("|")[0] if "|" in alternatives else "987654"
    if route.name:
        return reverse(route.name, kwargs=kwargs)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda group: kwargs[group.group(1)], route.route)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda group: kwargs[group.group(1)], path)
    return "/" + path.replace("^", "").replace("$", "")


def all_routes() -> list[Route]:
    return list(walk(get_resolver()))


# --- Answers ------------------------------------------------------------------------------------------


def refused(response) -> bool:
    if response.status_code in (401, 403):
        return True
    if response.status_code in (301, 302):
        location = response["Location"]
        to_login = location.startswith((reverse("login"), reverse("admin:login")))
        return to_login and "next=" in location
    return False


@dataclass
class Callers:
    users: dict
    django_user_model: type
    sessions: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)

    def user(self, caller: str):
        if caller == NO_ROLE:
            if NO_ROLE not in self.users:
                self.users[NO_ROLE] = self.django_user_model.objects.create_user(username="t_norole", password="x")
            return self.users[NO_ROLE]
        return self.users[caller]

    def session(self, caller: str, fresh: bool = False) -> Client:
        if fresh or caller not in self.sessions:
            client = Client()
            if caller != ANONYMOUS:
                client.force_login(self.user(caller))
            self.sessions[caller] = client
        return self.sessions[caller]

    def api(self, caller: str) -> APIClient:
        if caller not in self.tokens:
            self.tokens[caller] = APIClient() if caller == ANONYMOUS else jwt_client(self.user(caller))
        return self.tokens[caller]


def ask(callers: Callers, caller: str, route: Route, method: str, url: str):
    if route.route.startswith("api/"):
        client = callers.api(caller)
        return getattr(client, method.lower())(url, {} if method != "GET" else None, format="json")
    client = callers.session(caller)
    response = getattr(client, method.lower())(url)
    if route.key in ENDS_THE_SESSION:
        callers.session(caller, fresh=True)
    return response


# --- The tests ------------------------------------------------------------------------------------------


def test_every_route_has_a_row_and_every_row_a_route():
    rows = table_rows()
    missing = sorted({route.key for route in all_routes() if not rule_for(route.key, rows)})
    assert not missing, "Routes with no row in docs/roles.md (add one):\n  " + "\n  ".join(missing)
    stale = [f"line {row.line}: {row.routes}" for row in rows if not row.used]
    assert not stale, "Rows of docs/roles.md that match no route:\n  " + "\n  ".join(stale)


def test_every_route_answers_every_caller_as_the_table_says(users, django_user_model):
    rows = table_rows()
    callers = Callers(users=dict(users), django_user_model=django_user_model)
    wrong = []
    # Two thousand requests: their access-log lines and 4xx warnings would cost more than the requests
    # (and say nothing here).
    logging.disable(logging.WARNING)
    try:
        for route in all_routes():
            check_route(route, rows, callers, wrong)
    finally:
        logging.disable(logging.NOTSET)
    assert not wrong, f"{len(wrong)} answers disagree with docs/roles.md:\n  " + "\n  ".join(wrong)


def check_route(route: Route, rows: list[Row], callers: Callers, wrong: list[str]) -> None:
    url = sample_url(route)
    for method, row in rule_for(route.key, rows).items():
        for caller in CALLERS:
            response = ask(callers, caller, route, method, url)
            allowed = caller in row.who
            if response.status_code == 500 or (allowed and response.status_code == 405):
                problem = f"answered {response.status_code}"
            elif allowed and row.model_may_refuse and response.status_code == 403:
                continue
            elif allowed == refused(response):
                problem = f"{'refused' if allowed else 'let in'} ({response.status_code})"
            else:
                continue
            wrong.append(f"{method} {url} [{route.key}, docs/roles.md line {row.line}] {caller}: {problem}")
