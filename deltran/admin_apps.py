"""The admin app with DelTran's site (deltran/admin_site.py) as the default one; named in INSTALLED_APPS."""

from django.contrib.admin.apps import AdminConfig


class DeltranAdminConfig(AdminConfig):
    default_site = "deltran.admin_site.DeltranAdminSite"
