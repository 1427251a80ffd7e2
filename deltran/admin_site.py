"""The Django admin site for the Admin role only: staff status alone does not let a user in."""

from django.contrib import admin

from deltran.roles import ADMIN, user_roles


class DeltranAdminSite(admin.AdminSite):
    site_header = "DelTran administration"
    site_title = "DelTran admin"

    def has_permission(self, request) -> bool:
        # The second factor is enforced before any view runs (deltran.otp.OTPRequiredMiddleware).
        return super().has_permission(request) and ADMIN in user_roles(request.user)
