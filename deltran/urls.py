"""Root URLs: the API under /api/v1/, the pages, the admin, the OpenAPI schema and its docs."""

from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from deltran import auth_api, otp_views
from deltran.errors import json_or_page

# Redoc needs inline styles, its inline init script and a blob: worker for search (see
# templates/drf_spectacular/redoc.html): the docs page alone gets them.
REDOC_CSP = csp_update(
    {
        "script-src": ["'unsafe-inline'", "blob:"],
        "style-src": ["'unsafe-inline'"],
        "worker-src": ["'self'", "blob:"],
        "font-src": ["data:"],
    }
)

api_v1 = [
    path("auth/login", auth_api.LoginView.as_view(), name="auth-login"),
    path("auth/refresh", auth_api.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", auth_api.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", auth_api.MeView.as_view(), name="auth-me"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", REDOC_CSP(SpectacularRedocView.as_view(url_name="api-schema")), name="api-docs"),
    path("", include("payments.api.urls")),
    path("", include("settlement.api.urls")),
    path("", include("fxrates.api.urls")),
    path("", include("liquidity.api.urls")),
    path("", include("compliance.api.urls")),
    path("", include("deltran.operations_api_urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
    path("", include("deltran.operations_urls")),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/two-factor/", otp_views.otp_setup_page, name="otp-setup"),
    path("account/two-factor/verify/", otp_views.otp_verify_page, name="otp-verify"),
    path("account/two-factor/backup-codes/", otp_views.otp_backup_codes_page, name="otp-backup-codes"),
    path("", include("payments.urls")),
    path("compliance/", include("compliance.urls")),
    path("", include("settlement.urls")),
    path("", include("fxrates.urls")),
    path("", include("liquidity.urls")),
]

handler400 = json_or_page(400, "bad_request", "The request could not be understood.", defaults.bad_request)
handler403 = json_or_page(403, "permission_denied", "You may not do this.", defaults.permission_denied)
handler404 = json_or_page(404, "not_found", "Nothing is found at this address.", defaults.page_not_found)
handler500 = json_or_page(500, "server_error", "Something went wrong on our side.", defaults.server_error)
