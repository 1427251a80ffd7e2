"""Authentication API: JWT login (password, then the one-time code when the user has enrolled), refresh
(rotating), logout (revoking) and who-am-I."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from deltran.errors import error_body
from deltran.login_attempts import LoginLocked, login_lock_check, login_succeeded
from deltran.otp import OTPEnrolmentRequired, OTPThrottled, otp_enrolled, otp_required_by_role, otp_verify
from deltran.roles import HasRole, primary_role, user_roles


def user_summary(user) -> dict:
    return {
        "id": user.pk,
        "username": user.get_username(),
        "role": primary_role(user),
        "roles": sorted(user_roles(user)),
    }


class LoginSerializer(TokenObtainPairSerializer):
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=16,
        help_text="The one-time code of the user's authenticator (or a backup code); required once enrolled.",
    )

    @classmethod
    def get_token(cls, user):
        token = super().get_token(user)
        token["role"] = primary_role(user)
        return token

    def validate(self, attrs):
        request = self.context["request"]
        # A locked-out username + address pair is refused before the password is even checked.
        username = str(attrs.get(self.username_field, ""))
        login_lock_check(request, username=username)
        try:
            data = super().validate(attrs)
        except AuthenticationFailed:
            # The failure that reaches the limit is answered as the lockout, as on the session login.
            login_lock_check(request, username=username)
            raise
        if otp_enrolled(self.user):
            otp_verify(user=self.user, token=attrs.get("otp"))
        elif otp_required_by_role(self.user):
            raise OTPEnrolmentRequired(
                "Your role requires two-factor authentication: set up an authenticator on the web first."
            )
        login_succeeded(request, self.user)
        access = self.get_token(self.user).access_token
        data["token"] = data["access"]
        data["expires_at"] = access.current_time.replace(microsecond=0) + access.lifetime
        data["user"] = user_summary(self.user)
        return data


class LoginView(TokenObtainPairView):
    """Username and password in; an access token, a refresh token and the user's role out."""

    serializer_class = LoginSerializer

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if isinstance(exc, (LoginLocked, OTPThrottled)) and exc.retry_after:
            response["Retry-After"] = str(exc.retry_after)
        return response


class RefreshView(TokenRefreshView):
    """Trade a refresh token for a new access token and a new refresh token; the old one is blacklisted."""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if isinstance(exc, InvalidToken):
            # The same stable code as logout's for a spent, revoked or malformed refresh token.
            response.data["code"] = "token_not_valid"
        return response


class LogoutView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        request=inline_serializer("LogoutRequest", {"refresh": serializers.CharField()}),
        responses={204: None},
        summary="Revoke a refresh token",
    )
    def post(self, request):
        raw = request.data.get("refresh") if isinstance(request.data, dict) else None
        if not isinstance(raw, str) or not raw:
            return Response(
                error_body(
                    "validation_error",
                    "The refresh token is required.",
                    {"refresh": [{"code": "required", "message": "This field is required."}]},
                ),
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            RefreshToken(raw).blacklist()
        except TokenError as exc:
            return Response(error_body("token_not_valid", str(exc)), status=status.HTTP_401_UNAUTHORIZED)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """The caller's identity and roles; also the cheapest authenticated endpoint (used by the benchmark)."""

    capability = "account.view"
    permission_classes = [HasRole]

    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "id": serializers.IntegerField(),
                "username": serializers.CharField(),
                "role": serializers.CharField(allow_null=True),
                "roles": serializers.ListField(child=serializers.CharField()),
            },
        )
    )
    def get(self, request):
        return Response(user_summary(request.user))
