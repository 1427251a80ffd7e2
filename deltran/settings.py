"""DelTran settings: one module, two run modes chosen by the environment.

With no environment the whole system runs embedded: SQLite under var/, an
in-memory channel layer and a Celery broker on the filesystem. With
DATABASE_URL / REDIS_URL set it runs on PostgreSQL and Redis.
"""

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from corsheaders.defaults import default_headers as cors_default_headers

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DELTRAN_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# The development key is only for the embedded mode; production sets SECRET_KEY.
SECRET_KEY = os.environ.get("SECRET_KEY", "deltran-development-only-key-change-me-in-production-0123456789")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    # The admin site that lets in only the Admin role (deltran/admin_site.py).
    "deltran.admin_apps.DeltranAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_prometheus",
    "corsheaders",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "deltran",
    "fxrates",
    "settlement",
    "liquidity",
    "compliance",
    "payments",
]

MIDDLEWARE = [
    # Outermost pair: request counts and latencies for /metrics (django-prometheus).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # First: the request id is on every response and on every log line below it (deltran/requestid.py).
    "deltran.requestid.RequestIdMiddleware",
    # Before anything that can answer (WhiteNoise, CommonMiddleware): preflights and CORS headers on every answer.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "deltran.otp_gate.OTPRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out session login into the lockout page (deltran/login_attempts.py).
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "deltran.urls"
WSGI_APPLICATION = "deltran.wsgi.application"
ASGI_APPLICATION = "deltran.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "deltran.roles.roles_context",
                "deltran.otp_gate.otp_context",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------

SQLITE_PATH = VAR_DIR / "deltran.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                # Writers queue on one lock taken at BEGIN, so a read-then-write
                # transaction can never fail half-way with "database is locked".
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            },
        }
    }
DATABASE_VENDOR = "postgresql" if DATABASES["default"]["ENGINE"].endswith("postgresql") else "sqlite"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, channel layer, Celery ----------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "").strip()

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "filesystem://"
    _broker_dir = VAR_DIR / "celery" / "broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "celery" / "processed").mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "celery" / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }

# Request-rate counters (deltran/ratelimit.py) must be shared by every web process: Redis when configured, else a
# file cache under var/ that the processes of `make run` share.
if REDIS_URL:
    CACHES["ratelimit"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "deltran",
    }
else:
    CACHES["ratelimit"] = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache" / "ratelimit"),
        "OPTIONS": {"MAX_ENTRIES": 10000},
    }

CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TIMEZONE = "UTC"
# --- FX ----------------------------------------------------------------------------

# The volatility simulation moves rates every interval; switch it off when real rates are imported.
FX_SIMULATION_ENABLED = env_bool("FX_SIMULATION_ENABLED", True)
FX_SIMULATION_INTERVAL_SECONDS = float(os.environ.get("FX_SIMULATION_INTERVAL_SECONDS", 5))
FX_HISTORY_RETENTION = timedelta(days=int(os.environ.get("FX_HISTORY_RETENTION_DAYS", 7)))
FX_CACHE_SECONDS = float(os.environ.get("FX_CACHE_SECONDS", 1))
# Reference data (banks, accounts, risk rules, compliance settings) kept per process (deltran/cache.py); a save
# clears this process's copy at once, other processes see it within this time.
REFERENCE_DATA_TTL_SECONDS = float(os.environ.get("REFERENCE_DATA_TTL_SECONDS", 5))
# How often a process checks whether a screening list changed (and rebuilds its in-memory index).
SCREENING_INDEX_CHECK_SECONDS = float(os.environ.get("SCREENING_INDEX_CHECK_SECONDS", 5))

# --- Settlement --------------------------------------------------------------------

# How often beat runs a netting cycle (and re-examines payments waiting for liquidity).
NETTING_CYCLE_SECONDS = float(os.environ.get("NETTING_CYCLE_SECONDS", 60))
# At most this many obligations per cycle, oldest first; the rest wait for the next cycle.
NETTING_CYCLE_MAX_OBLIGATIONS = int(os.environ.get("NETTING_CYCLE_MAX_OBLIGATIONS", 200_000))
# A cycle still "running" after this long, and not locked by a live worker, is marked failed (abandoned).
NETTING_CYCLE_STALE_SECONDS = float(os.environ.get("NETTING_CYCLE_STALE_SECONDS", 600))

# --- Liquidity pool ---------------------------------------------------------------------

# The spread a rebalance's FX trades cost, as a fraction of the amount sold (0.0005 is 5 basis points).
POOL_FX_SPREAD = Decimal(os.environ.get("POOL_FX_SPREAD", "0.0005"))
# How often beat rebalances the pools that have automatic rebalancing on.
POOL_REBALANCE_SECONDS = float(os.environ.get("POOL_REBALANCE_SECONDS", 300))

# --- Metrics and live updates -------------------------------------------------------------

# The payment counters are rolled up from the timeline by beat this often; a metrics request rolls them up itself
# when they are older than METRICS_STALE_SECONDS. Ids skipped by a read (transactions not yet committed) are looked
# at again for METRICS_GAP_SECONDS, then given up as rolled back.
METRICS_ROLLUP_SECONDS = float(os.environ.get("METRICS_ROLLUP_SECONDS", 1))
METRICS_STALE_SECONDS = float(os.environ.get("METRICS_STALE_SECONDS", 2))
METRICS_ROLLUP_MAX_SECONDS = float(os.environ.get("METRICS_ROLLUP_MAX_SECONDS", 20))
METRICS_GAP_SECONDS = float(os.environ.get("METRICS_GAP_SECONDS", 300))
# Each WebSocket process reads new outbox rows this often and sends them to its sockets; payment updates to a
# socket go out together every WS_PAYMENT_BATCH_SECONDS, in messages of at most WS_PAYMENT_BATCH_MAX events.
OUTBOX_POLL_SECONDS = float(os.environ.get("OUTBOX_POLL_SECONDS", 0.1))
WS_PAYMENT_BATCH_SECONDS = float(os.environ.get("WS_PAYMENT_BATCH_SECONDS", 0.15))
WS_PAYMENT_BATCH_MAX = int(os.environ.get("WS_PAYMENT_BATCH_MAX", 500))
# A client reconnecting with a last event id gets at most this many missed events; further behind, it is told to
# reload (message "resync").
WS_REPLAY_MAX = int(os.environ.get("WS_REPLAY_MAX", 10_000))

CELERY_BEAT_SCHEDULE = {
    "deltran.idempotency_prune": {"task": "deltran.idempotency_prune", "schedule": 3600.0},
    "deltran.outbox_prune": {"task": "deltran.outbox_prune", "schedule": 3600.0},
    "fxrates.simulate_tick": {"task": "fxrates.simulate_tick", "schedule": FX_SIMULATION_INTERVAL_SECONDS},
    "fxrates.prune_history": {"task": "fxrates.prune_history", "schedule": 3600.0},
    "liquidity.rebalance": {"task": "liquidity.rebalance", "schedule": POOL_REBALANCE_SECONDS},
    "settlement.netting_cycle": {"task": "settlement.netting_cycle", "schedule": NETTING_CYCLE_SECONDS},
    "payments.liquidity_release": {"task": "payments.liquidity_release", "schedule": NETTING_CYCLE_SECONDS},
    "payments.metrics_rollup": {"task": "payments.metrics_rollup", "schedule": METRICS_ROLLUP_SECONDS},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Operations: task retries, dead letters, periodic locks, health, metrics ------------

# A task failing transiently (database, broker or Redis away) is retried this many times, waiting
# BACKOFF * 2**attempt seconds (with jitter, at most BACKOFF_MAX); then it lands in the dead-letter table.
TASK_RETRY_MAX = int(os.environ.get("TASK_RETRY_MAX", 5))
TASK_RETRY_BACKOFF_SECONDS = int(os.environ.get("TASK_RETRY_BACKOFF_SECONDS", 2))
TASK_RETRY_BACKOFF_MAX_SECONDS = int(os.environ.get("TASK_RETRY_BACKOFF_MAX_SECONDS", 300))
# SQLite only (PostgreSQL uses advisory locks): how long a periodic run's lease holds if its worker dies.
PERIODIC_TASK_LEASE_SECONDS = float(os.environ.get("PERIODIC_TASK_LEASE_SECONDS", 900))
# /health calls a periodic task late when its last start is older than this many of its intervals.
HEALTH_BEAT_LATE_FACTOR = float(os.environ.get("HEALTH_BEAT_LATE_FACTOR", 3))
# A screening list imported longer ago than this is reported as stale by /health and /metrics.
SANCTIONS_LIST_MAX_AGE_HOURS = float(os.environ.get("SANCTIONS_LIST_MAX_AGE_HOURS", 24 * 7))
# /metrics answers a request bearing this token (Authorization: Bearer …), or a logged-in Admin or Operator.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip()

# --- Auth --------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "payments:list"
LOGOUT_REDIRECT_URL = "login"

# Brute-force protection (django-axes): failed logins counted per username and client address, on the
# session login, the admin login and the JWT login alike; after LOGIN_FAILURE_LIMIT failures that pair is
# refused (429, code `login_locked`) for LOGIN_LOCKOUT_MINUTES. A successful login clears the count.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("LOGIN_LOCKOUT_MINUTES", 15)))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "deltran.login_attempts.lockout_response"
# The client address is the socket's: X-Forwarded-For is not trusted (anyone can send it) unless a proxy the
# deployment controls sets it, and then AXES_IPWARE_META_PRECEDENCE_ORDER is where to name it.
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

# Two-factor authentication (django-otp, TOTP). These roles must enrol an authenticator before they can use
# anything ("none" for no role); a user of any role who has enrolled is asked for a code after the password.
OTP_REQUIRED_ROLES = [
    role for role in env_list("OTP_REQUIRED_ROLES", ["Admin", "Compliance Officer"]) if role.lower() != "none"
]
OTP_TOTP_ISSUER = "DelTran"
OTP_BACKUP_CODES = 10

# --- I18N / time ---------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ----------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- REST API --------------------------------------------------------------------

# Bodies larger than this are refused before they are parsed (bytes).
API_MAX_BODY_BYTES = int(os.environ.get("API_MAX_BODY_BYTES", 64 * 1024))
# Bulk intake (issue 6): a pacs.008 message, an MT103 or a JSON batch may be larger than a single payment's body.
ISO20022_MAX_MESSAGE_BYTES = int(os.environ.get("ISO20022_MAX_MESSAGE_BYTES", 16 * 1024 * 1024))
BATCH_MAX_BODY_BYTES = int(os.environ.get("BATCH_MAX_BODY_BYTES", 16 * 1024 * 1024))
BATCH_MAX_ITEMS = 10_000
# Official ISO 20022 XSDs (<dir>/pacs.008/pacs.008.001.08.xsd, ...); when set, messages are validated against them.
ISO20022_XSD_DIR = os.environ.get("ISO20022_XSD_DIR", "")
DATA_UPLOAD_MAX_MEMORY_SIZE = 32 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        # Session authentication that ignores a session still owing its second factor.
        "deltran.otp_gate.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["deltran.roles.HasRole"],
    "DEFAULT_PARSER_CLASSES": ["deltran.api.DecimalJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "deltran.errors.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=int(os.environ.get("JWT_ACCESS_MINUTES", 15))),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": os.environ.get("JWT_SIGNING_KEY", SECRET_KEY),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "DelTran API",
    "DESCRIPTION": "Cross-border interbank settlement: payment intake, lists and exports.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The documentation page's scripts are served from the package, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- API edge: rate limits and API clients (deltran/ratelimit.py, deltran/clients.py) ------

REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["deltran.ratelimit.ApiRateLimit"]
# How many proxies in front of the web processes append to X-Forwarded-For; 0 means REMOTE_ADDR is the caller.
REST_FRAMEWORK["NUM_PROXIES"] = int(os.environ.get("TRUSTED_PROXIES", 0))
RATE_LIMIT_ENABLED = env_bool("RATE_LIMIT_ENABLED", True)
# Requests per minute for a user without an API client (an API client carries its own limit), and per address for
# anonymous callers.
RATE_LIMIT_PER_MINUTE = int(os.environ.get("RATE_LIMIT_PER_MINUTE", 100))
RATE_LIMIT_ANON_PER_MINUTE = int(os.environ.get("RATE_LIMIT_ANON_PER_MINUTE", 100))
RATE_LIMIT_CACHE = "ratelimit"
RATE_LIMIT_KEY_PREFIX = "rl"

# Idempotency keys are kept this long, then pruned by a periodic task.
IDEMPOTENCY_RETENTION = timedelta(hours=int(os.environ.get("IDEMPOTENCY_RETENTION_HOURS", 72)))
# Outbox events are kept this long for reconnecting sockets to replay; then deltran.outbox_prune deletes them.
OUTBOX_RETENTION = timedelta(hours=int(os.environ.get("OUTBOX_RETENTION_HOURS", 24)))

# The WebSocket server (Daphne) address the pages connect to; see DESIGN.md, "Serving".
WEBSOCKET_URL = os.environ.get("WEBSOCKET_URL", "ws://127.0.0.1:8001/api/v1/ws")

# --- Security headers, content security policy, CORS ----------------------------------

# Behind a proxy that terminates TLS (TLS_PROXY=1), sets X-Forwarded-Proto and strips it from what clients send,
# requests that came over https count as secure: HSTS is sent on them (Django sends it on secure requests only),
# cookies are marked secure, and SECURE_SSL_REDIRECT=1 sends plain http to https.
TLS_PROXY = env_bool("TLS_PROXY", False)
if TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 365 * 24 * 3600))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", TLS_PROXY)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Pages load only this origin's static files (no inline script or style; the API docs page relaxes this for
# Redoc, deltran/urls.py) and open their WebSocket on the Daphne origin.
_ws = urlsplit(WEBSOCKET_URL)
_ws_origins = [f"{_ws.scheme}://{_ws.netloc}"] if _ws.netloc else []
if _ws.hostname in {"127.0.0.1", "localhost", "::1"}:
    # static/js/live.js swaps a loopback socket host for the page's own loopback name (so the session cookie goes).
    _port = f":{_ws.port}" if _ws.port else ""
    _ws_origins = [f"{_ws.scheme}://{host}{_port}" for host in ("127.0.0.1", "localhost")]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", *_ws_origins],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Browsers on these origins (comma-separated, e.g. https://portal.bank.example) may call the API; none by default.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = (*cors_default_headers, "idempotency-key", "x-request-id")
CORS_EXPOSE_HEADERS = ["X-Request-ID", "Retry-After", "Idempotent-Replayed"]

# Keys that encrypt parties' account numbers and IBANs at rest (deltran/crypto.py): comma-separated Fernet keys, the
# first encrypts, all decrypt. Unset: a key derived from SECRET_KEY, for the embedded demo (a system check warns).
DELTRAN_FIELD_KEYS = env_list("DELTRAN_FIELD_KEY", [])

# Every line carries the request id and the user (deltran/requestid.py); LOG_FORMAT=json writes one JSON object a
# line (the default in production, i.e. with DATABASE_URL set), LOG_FORMAT=text a readable line (the embedded default).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json" if DATABASE_URL else "text").strip().lower()
# Celery workers log through this configuration too (JSON in production), not through handlers of their own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "deltran.requestid.RequestContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "{levelname}{name}{message}{request_id}{user}",
            "style": "{",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
        },
        "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s %(user)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_context"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
