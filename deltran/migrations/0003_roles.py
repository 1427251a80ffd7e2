"""Create the five roles as groups, so every installation has them."""

from django.db import migrations

ROLES = ("Admin", "Operator", "Compliance Officer", "Auditor", "Viewer")


def forwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role in ROLES:
        Group.objects.get_or_create(name=role)


class Migration(migrations.Migration):
    dependencies = [("deltran", "0002_audit_append_only"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
