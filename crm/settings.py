"""Settings for the CRM, read from the environment (twelve-factor).

Every knob an operator of the service may turn is an environment variable with a safe
development default, so `make run` needs none of them and production sets them all.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean from the environment: 1/true/yes/on are true, 0/false/no/off false."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {raw!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    """Read a comma-separated list from the environment."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    """Read an integer from the environment."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from exc


def env_float(name: str, default: float) -> float:
    """Read a number (seconds, a rate) from the environment."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from exc


# --- Core -------------------------------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", True)

# The development key only ever serves DEBUG; production must bring its own.
_DEV_SECRET_KEY = "dev-only-insecure-key-change-me-0123456789-abcdefghijklmnopqrstuvwxyz"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
# A refused form: the customer-facing layout on the public survey page, templates/403_csrf.html
# (the staff layout) everywhere else.
CSRF_FAILURE_VIEW = "crm.views.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # pg_trgm for the customer search (a no-op on SQLite).
    "django.contrib.postgres",
    "rest_framework",
    # Only so that old migrations resolve: API tokens are accounts.ApiToken (hashed); the
    # plain-text authtoken table was moved there and emptied (accounts/0003), its admin is off.
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Audit history of the models in AUDITLOG_INCLUDE_TRACKING_MODELS (core/audit.py).
    "auditlog",
    "axes",
    "accounts",
    "customers",
    "tickets",
    "surveys",
    "metrics",
    "webhooks",
    "telephony",
    "email_channel",
    # Only its inbound webhook views and signal (email_channel/urls.py, email_channel/inbound.py).
    "anymail",
    "live",
    "core.api",
    "crm",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy (settings.SECURE_CSP) and Permissions-Policy on every response.
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "core.security_headers.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.audit.AuditPathMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.middleware.OperatorPreferencesMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Audit history (docs/architecture.md#audit-history): who changed these records, when, through
# which path (core/audit.py), old and new values. Erasure anonymises it (crm/privacy.py).
AUDITLOG_INCLUDE_TRACKING_MODELS = (
    {"model": "customers.Customer", "m2m_fields": {"tags"}},
    "customers.ContactPoint",
    "customers.Purchase",
    "customers.Offer",
    "tickets.Ticket",
    {
        "model": "accounts.User",
        "exclude_fields": ["password", "last_login"],
        "m2m_fields": {"groups"},
    },
    {"model": "auth.Group", "m2m_fields": {"permissions"}},
)
# No client addresses in the audit entries: the path and the actor say what is needed.
AUDITLOG_DISABLE_REMOTE_ADDR = True

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"
ASGI_APPLICATION = "crm.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # `csp_nonce` for the few inline scripts and styles that must stay.
                "django.template.context_processors.csp",
            ],
            # `{% load cached_url %}`: `{% url %}` answered from a per-process cache;
            # `{% load cached_date %}`: the `date` filter with its formats compiled once.
            "libraries": {"cached_url": "core.cached_url", "cached_date": "core.cached_date"},
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
# SQLite under var/ is the embedded default for the quick start; production and CI give
# DATABASE_URL=postgres://... (psycopg 3).

VAR_DIR = Path(os.environ.get("CRM_VAR_DIR", BASE_DIR / "var"))
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'crm.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of failing
        # with "database is locked" halfway through a transaction; WAL lets readers go on.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

else:
    # A database that is down or hung must not hold a request for long: connecting gives up
    # after DATABASE_CONNECT_TIMEOUT_SECONDS (libpq's minimum is 2), a statement is cancelled
    # by the server after DATABASE_STATEMENT_TIMEOUT_SECONDS (0, the default: no limit, for
    # jobs, commands and migrations; scripts/serve sets 30 for the web), and a connection whose
    # server stopped answering is dropped by TCP keepalives. The request then answers 503 with
    # Retry-After (core/unavailable.py). See docs/operations.md, "When PostgreSQL is down".
    # A server that stopped answering altogether cancels nothing: the client gives up a little
    # after the statement timeout would have fired (core/postgresql/base.py).
    # JIT compilation off: PostgreSQL compiles any statement whose estimated cost passes
    # jit_above_cost, and the metrics' year-long statements (0.1 s each) paid 12-30 ms of
    # compilation for no faster run (issue 18). JIT pays off on analytical statements of
    # seconds; the project's reads are built to take well under one.
    _statement_timeout = env_float("DATABASE_STATEMENT_TIMEOUT_SECONDS", 0)
    _prepared_statements = env_bool("DATABASE_PREPARED_STATEMENTS", True)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "core.postgresql"
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT_SECONDS", 3),
            "options": f"-c statement_timeout={int(_statement_timeout * 1000)} -c jit=off",
            "client_timeout": env_float(
                "DATABASE_CLIENT_TIMEOUT_SECONDS",
                _statement_timeout + 5 if _statement_timeout else 0,
            )
            or None,
            # Parameters bound by the server, and a statement run a fifth time on a connection
            # prepared there: planned once, not on every request (the card's statements
            # cost the server more to plan than to run). The caller-ID lookup is prepared at
            # once (core.postgresql's prepared_cursor()). A pooler in transaction mode older
            # than PgBouncer 1.21 cannot keep prepared statements:
            # DATABASE_PREPARED_STATEMENTS=0 there (client-side binding, Django's default).
            "prepare_threshold": 5 if _prepared_statements else None,
            "server_side_binding": _prepared_statements,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
        }
    )
    # The web process (scripts/serve) keeps a pool of connections per worker: under ASGI each
    # request runs in a thread of its own, so a persistent connection (CONN_MAX_AGE) was
    # never used again and was left open until its thread's objects were collected: 96
    # connections after twenty seconds of load, then "too many clients". A pooled connection
    # goes back at the end of each request with its prepared statements and the server
    # process's warm caches. DATABASE_POOL_MAX_SIZE=0 (the default outside scripts/serve:
    # jobs, Celery's forked workers, commands) connects as before.
    _pool_max_size = env_int("DATABASE_POOL_MAX_SIZE", 0)
    if _pool_max_size > 0:
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them; Django requires 0
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": min(env_int("DATABASE_POOL_MIN_SIZE", 2), _pool_max_size),
            "max_size": _pool_max_size,
            # A request waits this long for a connection (all in use, or the database away)
            # before it answers 503 with Retry-After.
            "timeout": env_float("DATABASE_POOL_TIMEOUT_SECONDS", 2),
            # A failed connection attempt is not retried in the background for minutes with
            # a growing back-off: the next request tries again, so the service is back as
            # soon as the database is.
            "reconnect_timeout": env_float("DATABASE_POOL_TIMEOUT_SECONDS", 2),
            "max_idle": 300,
            "name": "crm-web",
        }
# Seconds a client is asked to wait (Retry-After) when the database is unreachable.
DATABASE_RETRY_AFTER_SECONDS = env_int("DATABASE_RETRY_AFTER_SECONDS", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -------------------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "")

# A cache, broker or live-bus call waits at most this long for Redis (connect, then each
# reply); after a failure Redis is not asked again for REDIS_RETRY_SECONDS and the cache answers
# as an empty one (core/cache.py). Redis on the same network answers in well under a millisecond.
REDIS_CONNECT_TIMEOUT_SECONDS = env_float("REDIS_CONNECT_TIMEOUT_SECONDS", 0.5)
REDIS_SOCKET_TIMEOUT_SECONDS = env_float("REDIS_SOCKET_TIMEOUT_SECONDS", 0.5)
REDIS_RETRY_SECONDS = env_float("REDIS_RETRY_SECONDS", 5.0)

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.cache.FailSoftRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "crm",
            "OPTIONS": {
                "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
                "CACHE_RETRY_SECONDS": REDIS_RETRY_SECONDS,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# API tokens and session users (accounts.auth_cache): a valid token or signed-in user and their
# permissions are kept in the shared cache this long, and in each process this long (the most a
# revocation can take to reach another process; the revoking process and the cache forget at
# once).
API_TOKEN_CACHE_SECONDS = int(os.environ.get("API_TOKEN_CACHE_SECONDS", "300"))
API_TOKEN_LOCAL_CACHE_SECONDS = float(os.environ.get("API_TOKEN_LOCAL_CACHE_SECONDS", "5"))

# Live updates (live.bus): Redis pub/sub fans events out to every web process; without it they
# reach the pages served by the publishing process only (the quick start's single process).
LIVE_REDIS_URL = os.environ.get("LIVE_REDIS_URL", REDIS_URL)
# Seconds of silence after which an event stream sends a comment, so proxies keep it open.
LIVE_HEARTBEAT_SECONDS = float(os.environ.get("LIVE_HEARTBEAT_SECONDS", "15"))

# With no broker the quick start still works: tasks run inline, in the caller's process.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL) or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool(
    "CELERY_TASK_ALWAYS_EAGER", not (REDIS_URL or os.environ.get("CELERY_BROKER_URL"))
)
CELERY_TASK_EAGER_PROPAGATES = True
# A task is acknowledged after it ran, so a worker that dies mid-task leaves it to another.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Enqueueing must fail fast when Redis is down: the web request goes on and the deliveries
# sweep sends what was left pending (core/queue.py).
CELERY_BROKER_CONNECTION_TIMEOUT = env_int("CELERY_BROKER_CONNECTION_TIMEOUT", 2)
# Task time limits: the longest job (a rollup after a long gap) must end within the hard limit,
# and the broker's visibility timeout (Redis hands an unacknowledged task to another worker after
# it) is longer still, so that a running task is never started a second time beside itself. The
# outbox's tasks have limits of their own (core/outbox/tasks.py) and do not wait for the broker's
# redelivery: the outbox sweep takes a dead worker's messages back after OUTBOX_CLAIM_LEASE_SECONDS.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 50 * 60)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 55 * 60)
CELERY_BROKER_VISIBILITY_TIMEOUT = env_int("CELERY_BROKER_VISIBILITY_TIMEOUT", 60 * 60)
if CELERY_BROKER_VISIBILITY_TIMEOUT <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CELERY_BROKER_VISIBILITY_TIMEOUT must be longer than CELERY_TASK_TIME_LIMIT, or a task "
        "still running is handed to a second worker"
    )
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    "socket_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    "max_retries": 1,
    "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The schedule speaks the site's time zone: "08:00" is eight in the morning in Moscow.
CELERY_TIMEZONE = os.environ.get("DJANGO_TIME_ZONE", "Europe/Moscow")
# Every job also runs by hand: python manage.py run_job <name> [--date YYYY-MM-DD].
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # SLA at-risk and breach notifications, within a minute of the crossing.
    "escalations-every-minute": {
        "task": "crm.run_job",
        "schedule": crontab(minute="*"),
        "kwargs": {"name": "escalations"},
    },
    "reminders-daily": {
        "task": "crm.run_job",
        "schedule": crontab(hour=7, minute=0),
        "kwargs": {"name": "reminders"},
    },
    "surveys-daily": {
        "task": "crm.run_job",
        "schedule": crontab(hour=7, minute=15),
        "kwargs": {"name": "surveys"},
    },
    # The outbox (reminders, survey invitations, webhooks): a dead worker's claims back within
    # OUTBOX_CLAIM_LEASE_SECONDS + this period, retries and lost messages handed out.
    "outbox-sweep": {
        "task": "crm.run_job",
        "schedule": datetime.timedelta(seconds=env_int("OUTBOX_SWEEP_SECONDS", 15)),
        "kwargs": {"name": "outbox"},
    },
    # The card's co-purchase counts, recounted only when a write marked them stale.
    "co-purchases-sweep": {
        "task": "crm.run_job",
        "schedule": crontab(minute="*/10"),
        "kwargs": {"name": "co_purchases"},
    },
    # Notification emails whose task never reached the broker (live/email.py).
    "notification-emails-sweep": {
        "task": "crm.run_job",
        "schedule": crontab(minute="*/10"),
        "kwargs": {"name": "notification_emails"},
    },
    # Only works when the purchase summary is stale (after a migration or a time zone change).
    "purchase-days-daily": {
        "task": "crm.run_job",
        "schedule": crontab(hour=0, minute=55),
        "kwargs": {"name": "purchase_days"},
    },
    # Before the snapshots: the dashboard reads covered days from the rollups, the rest from
    # the facts; a run after a long gap or a change of the metrics may take a while.
    "rollups-daily": {
        "task": "crm.run_job",
        "schedule": crontab(hour=1, minute=0),
        "kwargs": {"name": "rollups"},
    },
    "snapshots-daily": {
        "task": "crm.run_job",
        "schedule": crontab(hour=1, minute=30),
        "kwargs": {"name": "snapshots"},
    },
    # Calls whose hangup never came are closed after TELEPHONY_STALE_CALL_MINUTES.
    "calls-sweep": {
        "task": "crm.run_job",
        "schedule": crontab(minute="*/15"),
        "kwargs": {"name": "calls"},
    },
    # The email channel: new mail from the IMAP mailboxes, replies whose task never ran.
    "mail-every-minute": {
        "task": "crm.run_job",
        "schedule": crontab(minute="*"),
        "kwargs": {"name": "mail"},
    },
    # Idempotency keys replay for 24 hours; their rows go within the hour after that.
    "idempotency-keys-hourly": {
        "task": "crm.run_job",
        "schedule": crontab(minute=5),
        "kwargs": {"name": "idempotency_keys"},
    },
}

# --- Proactive service: reminders and survey delivery ----------------------------------------

# Days ahead of a term's end at which a reminder goes out, per Reminder.Kind; a product
# category may override them (ProductCategory.reminder_lead_days).
REMINDER_LEAD_DAYS: dict[str, list[int]] = {
    "warranty": [30, 7],
    "support": [30, 7],
    "renewal": [14, 3],
}
# No reminder or survey reaches a customer between these local times (their time zone, else
# the site's); a delivery that falls inside waits until the end of the window.
DELIVERY_QUIET_HOURS_START = os.environ.get("DELIVERY_QUIET_HOURS_START", "21:00")
DELIVERY_QUIET_HOURS_END = os.environ.get("DELIVERY_QUIET_HOURS_END", "09:00")
for _name in ("DELIVERY_QUIET_HOURS_START", "DELIVERY_QUIET_HOURS_END"):
    try:
        datetime.time.fromisoformat(globals()[_name])
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"{_name} must be a time as HH:MM, not {globals()[_name]!r}"
        ) from _exc
# --- The outbox (core/outbox): one failure policy for everything the product sends ---------
# Attempts per route before a message falls back to the customer's next channel (reminders) or
# fails for good; between them the wait doubles from the base up to the cap, spread by the
# jitter fraction either way: 1, 2, 4 ... 64 minutes, then 2 hours: about 6 hours in all, so a
# gateway outage of an afternoon delays messages and loses none.
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 10)
OUTBOX_RETRY_BASE_SECONDS = env_int("OUTBOX_RETRY_BASE_SECONDS", 60)
OUTBOX_RETRY_MAX_SECONDS = env_int("OUTBOX_RETRY_MAX_SECONDS", 2 * 60 * 60)
OUTBOX_RETRY_JITTER = float(os.environ.get("OUTBOX_RETRY_JITTER", "0.25"))
# A claim older than this belongs to a worker that died: the sweep puts the message back. Longer
# than one send may take (the providers' timeouts below are 10 s), so a live worker keeps its own.
OUTBOX_CLAIM_LEASE_SECONDS = env_int("OUTBOX_CLAIM_LEASE_SECONDS", 45)
# Messages one batch task claims, batch tasks one sweep enqueues per kind, and a batch's time.
OUTBOX_BATCH_SIZE = env_int("OUTBOX_BATCH_SIZE", 50)
OUTBOX_MAX_BATCHES_PER_SWEEP = env_int("OUTBOX_MAX_BATCHES_PER_SWEEP", 20)
OUTBOX_BATCH_TIME_LIMIT_SECONDS = env_int("OUTBOX_BATCH_TIME_LIMIT_SECONDS", 10 * 60)
# A ticket resolved this long ago without its survey invitation (the broker was down when it
# was resolved) gets it from the sweep; up to the look-back, then the daily job's catch-up.
SURVEY_RESOLUTION_GRACE_SECONDS = env_int("SURVEY_RESOLUTION_GRACE_SECONDS", 120)
SURVEY_RESOLUTION_LOOKBACK_HOURS = env_int("SURVEY_RESOLUTION_LOOKBACK_HOURS", 24)
# Absolute links in messages (the survey page, unsubscribe) start with this.
SITE_URL = os.environ.get("CRM_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Channel backends (customers/delivery/backends.py): dotted path plus its options.
SMS_BACKEND = os.environ.get("CRM_SMS_BACKEND", "customers.delivery.backends.LoggingBackend")
MESSENGER_BACKEND = os.environ.get(
    "CRM_MESSENGER_BACKEND", "customers.delivery.backends.LoggingBackend"
)
SMS_OPTIONS = {
    "url": os.environ.get("CRM_SMS_URL", ""),
    "token": os.environ.get("CRM_SMS_TOKEN", ""),
    "sender": os.environ.get("CRM_SMS_SENDER", ""),
    "timeout": env_int("CRM_SMS_TIMEOUT", 10),
}
MESSENGER_OPTIONS = {
    "url": os.environ.get("CRM_MESSENGER_URL", ""),
    "token": os.environ.get("CRM_MESSENGER_TOKEN", ""),
    "sender": os.environ.get("CRM_MESSENGER_SENDER", ""),
    "timeout": env_int("CRM_MESSENGER_TIMEOUT", 10),
}

# A customer gets at most one survey every this many days, whatever asks (the card, a resolved
# ticket, a purchase, the periodic NPS): more is pestering, and it skews the answers. 0: no limit.
SURVEY_MIN_DAYS_BETWEEN = env_int("SURVEY_MIN_DAYS_BETWEEN", 14)

# The public survey page /s/<token>/: requests allowed per client address and per token within
# the window (Django cache), before a friendly 429.
SURVEY_ANSWER_RATE_LIMIT = {
    "per_ip": env_int("SURVEY_RATE_LIMIT_PER_IP", 60),
    "per_token": env_int("SURVEY_RATE_LIMIT_PER_TOKEN", 20),
    "window_seconds": env_int("SURVEY_RATE_LIMIT_WINDOW_SECONDS", 600),
}

# --- Auth ---------------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Languages, time, phones, money -----------------------------------------------------------

LANGUAGE_CODE = os.environ.get("DJANGO_LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "Europe/Moscow")

# Phones are parsed with this region when typed without a country code ("8 912 ...").
PHONE_DEFAULT_REGION = os.environ.get("PHONE_DEFAULT_REGION", "RU").upper()
DEFAULT_CURRENCY = os.environ.get("CRM_DEFAULT_CURRENCY", "RUB").upper()

# Dates no business record can have are refused (API 400, admin and import errors): anything
# before this day (a typo, a placeholder such as 0001-01-01 or 1850), and a moment that already
# happened (a purchase, a call, an answer) later than now plus this leeway for clocks.
try:
    CRM_EARLIEST_DATE = datetime.date.fromisoformat(
        os.environ.get("CRM_EARLIEST_DATE", "1970-01-01")
    )
except ValueError as _exc:
    raise ImproperlyConfigured("CRM_EARLIEST_DATE must be a date as YYYY-MM-DD") from _exc
CRM_FUTURE_LEEWAY_SECONDS = env_int("CRM_FUTURE_LEEWAY_SECONDS", 24 * 60 * 60)

# --- The customer card and its recommendations ------------------------------------------------

# A product bought this long ago is due for its successor: two years, the usual replacement
# cycle of consumer electronics.
CRM_SUCCESSOR_AFTER_DAYS = env_int("CRM_SUCCESSOR_AFTER_DAYS", 730)
# An offer the customer declined is not made again for this many days.
CRM_DECLINED_OFFER_QUIET_DAYS = env_int("CRM_DECLINED_OFFER_QUIET_DAYS", 90)
# A warranty, support contract or subscription ending within this many days is "expiring":
# the card warns and recommends the extension or renewal.
CRM_EXPIRY_WARNING_DAYS = env_int("CRM_EXPIRY_WARNING_DAYS", 30)
# An open interest (cart, quote, enquiry, view) older than this is no longer worth reviving.
CRM_INTEREST_REVIVE_DAYS = env_int("CRM_INTEREST_REVIVE_DAYS", 180)
# "Customers who bought X also bought Z" needs this many such customers to be a pattern.
CRM_CO_PURCHASE_MIN_CUSTOMERS = env_int("CRM_CO_PURCHASE_MIN_CUSTOMERS", 3)
# How many next best offers the card shows.
CRM_CARD_OFFERS = env_int("CRM_CARD_OFFERS", 5)

# --- Static files -------------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# whitenoise serves from here; it must exist even before the first collectstatic.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded and mailed-in files (ticket attachments); an S3-compatible bucket through
# django-storages is a STORAGES["default"] change (docs/email.md#attachments).
MEDIA_ROOT = Path(os.environ.get("CRM_MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- REST API -------------------------------------------------------------------------------

# Page sizes of the cursor-paginated lists; a client asks for up to the maximum.
API_PAGE_SIZE = env_int("CRM_API_PAGE_SIZE", 50)
API_MAX_PAGE_SIZE = env_int("CRM_API_MAX_PAGE_SIZE", 500)
# Items per request of /purchases/bulk/ and /interests/bulk/: hundreds, in one transaction.
API_BULK_MAX_ITEMS = env_int("CRM_API_BULK_MAX_ITEMS", 1000)
# Requests per token; generous, so that a nightly sync is not cut off. "" disables it.
API_THROTTLE_RATE = os.environ.get("CRM_API_THROTTLE_RATE", "20000/hour")
# How long an Idempotency-Key replays its first answer (24 hours, as Stripe's do).
API_IDEMPOTENCY_TTL_SECONDS = env_int("CRM_API_IDEMPOTENCY_TTL_SECONDS", 24 * 60 * 60)
# How long a request holds its Idempotency-Key while it runs: a retry after that takes the key
# over (the first request's worker died). Keep it above the server's worker timeout
# (CRM_WEB_TIMEOUT in scripts/serve, 60 s), so that a slow request is not run twice.
API_IDEMPOTENCY_LEASE_SECONDS = env_int("CRM_API_IDEMPOTENCY_LEASE_SECONDS", 120)
# Lists and objects in a JSON body nest at most this deep; deeper is a 400 before any parsing
# code recurses into it. The API's own bodies nest four levels at most.
API_JSON_MAX_DEPTH = env_int("CRM_API_JSON_MAX_DEPTH", 32)

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes an anonymous request a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Hashed, named, expiring tokens (accounts.ApiToken), DRF's `Token <key>` header.
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.ModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": ["core.api.filters.StrictFilterBackend"],
    # JSON only (415 for anything else); a view that must read a form sets its own parsers.
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.StableCursorPagination",
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttling.TokenRateThrottle"],
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CRM API",
    "DESCRIPTION": (
        "Customer-service CRM: customers, tickets, surveys and metrics. Authenticate with "
        "`Authorization: Token <key>`. See docs/api.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the installed sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Many models have a `kind`, `channel` or `status`: each choice set gets its own name.
    "ENUM_NAME_OVERRIDES": {
        "CustomerKindEnum": "customers.models.Customer.Kind",
        "ContactPointKindEnum": "customers.models.ContactPoint.Kind",
        "ProductKindEnum": "customers.models.Product.Kind",
        "InterestKindEnum": "customers.models.Interest.Kind",
        "InteractionKindEnum": "customers.models.Interaction.Kind",
        "ReminderKindEnum": "customers.models.Reminder.Kind",
        "SurveyKindEnum": "surveys.models.Survey.Kind",
        "ChannelEnum": "customers.models.Channel",
        "SalesChannelEnum": "customers.models.SalesChannel",
        "DeliveryChannelEnum": "customers.api.schema.delivery_channel_choices",
        "PurchaseStatusEnum": "customers.models.Purchase.Status",
        "InterestStatusEnum": "customers.models.Interest.Status",
        "OfferStatusEnum": "customers.models.Offer.Status",
        "TicketStatusEnum": "tickets.models.Status",
        # One enum for every outbound message (reminders, invitations): core/outbox.
        "DeliveryStatusEnum": "core.outbox.models.DeliveryStatus",
    },
}

# --- Webhooks ---------------------------------------------------------------------------------

# Deliveries are retried by the outbox's one policy (OUTBOX_*); this bounds one attempt, and
# stays shorter than OUTBOX_CLAIM_LEASE_SECONDS.
WEBHOOK_TIMEOUT_SECONDS = env_int("CRM_WEBHOOK_TIMEOUT_SECONDS", 10)
# Webhooks go to public addresses only (no SSRF, webhooks/targets.py); these networks (CIDR,
# comma-separated, e.g. "10.1.0.0/16") are internal ones an admin may still send to.
WEBHOOK_ALLOWED_NETWORKS = env_list("CRM_WEBHOOK_ALLOWED_NETWORKS", [])
for _network in WEBHOOK_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"CRM_WEBHOOK_ALLOWED_NETWORKS: {_network!r} is not a network (CIDR)"
        ) from _exc

# --- Telephony -------------------------------------------------------------------------------

# A call whose hangup never arrived (a PBX restart, a lost request) is closed by the `calls`
# sweep this many minutes after it rang; a late hangup still corrects it.
TELEPHONY_STALE_CALL_MINUTES = env_int("TELEPHONY_STALE_CALL_MINUTES", 240)
# The PBX's click-to-call webhook (POSTed {"from": extension, "to": number}); empty: tel: only.
TELEPHONY_CLICK_TO_CALL_URL = os.environ.get("TELEPHONY_CLICK_TO_CALL_URL", "")
# The PBX's own rate limit, per second: 1,000 calls in progress send ~15 events a second on
# average (54,000 an hour, past the API's hourly rate). Counted per one-second window.
TELEPHONY_THROTTLE_RATE = os.environ.get("TELEPHONY_THROTTLE_RATE", "200/second")
TELEPHONY_CLICK_TO_CALL_TIMEOUT_SECONDS = env_int("TELEPHONY_CLICK_TO_CALL_TIMEOUT_SECONDS", 5)

# --- Security (production) ----------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
# Sessions are read from the cache (the database keeps them and answers when the cache fails):
# a signed-in page costs no session statement unless the session changes.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
    # Behind a TLS-terminating proxy (nginx, a load balancer) that sets X-Forwarded-Proto.
    if env_bool("DJANGO_BEHIND_TLS_PROXY", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Hardening: login lockout, client address, CSP, API tokens, unsubscribe links -------------
# (issue 15: brute force, proxies, Content Security Policy, hashed tokens, opaque links)

# Reverse proxies in front of the app that append to X-Forwarded-For (nginx, a load balancer);
# the client is the N-th address from the right (core/client_address.py). 0: no proxy, the
# socket address. Defaults to 1 in production behind the documented TLS proxy.
CRM_TRUSTED_PROXY_COUNT = env_int(
    "CRM_TRUSTED_PROXY_COUNT",
    1 if not DEBUG and env_bool("DJANGO_BEHIND_TLS_PROXY", True) else 0,
)

# Login lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username, or
# from one client address, further logins of that username or from that address are refused
# for AXES_COOLOFF_MINUTES, the right password included. Admins unlock in Admin -> Axes ->
# Access attempts (delete the attempt) or with `manage.py axes_reset_username NAME`.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.client_address.client_address"
AXES_LOCKOUT_CALLABLE = "core.lockout.locked_out"
AXES_USERNAME_FORM_FIELD = "username"
# Successful logins are in the admin's history already; the attempts table is what matters.
AXES_DISABLE_ACCESS_LOG = env_bool("AXES_DISABLE_ACCESS_LOG", False)
# Unsubscribe links in messages are opaque and stop working after this many days (the page
# then asks the customer to contact support); a newer message carries a fresh link.
UNSUBSCRIBE_LINK_MAX_AGE_DAYS = env_int("CRM_UNSUBSCRIBE_LINK_DAYS", 180)

# Content Security Policy (Django's own, django.middleware.csp): scripts and styles only from
# this site or carrying the response's nonce, no inline handlers, no eval, no framing, no
# plugins; images also as data: URIs (Swagger UI's icons).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# Browser features no page of the CRM uses, switched off for all (core/security_headers.py).
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
}

AUTHENTICATION_BACKENDS = [
    # First, so a locked-out username or address never reaches the password check.
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend with the session's user and permissions kept by accounts.auth_cache.
    "accounts.backends.CachedModelBackend",
]

# --- Email ---------------------------------------------------------------------------------------
# Django 6.1 mailers. Development prints mail to the console; production sends by SMTP.

_EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
_SMTP_OPTIONS = {
    "host": os.environ.get("EMAIL_HOST", "localhost"),
    "port": env_int("EMAIL_PORT", 25),
    "username": os.environ.get("EMAIL_HOST_USER", ""),
    "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
    "use_tls": env_bool("EMAIL_USE_TLS", False),
    # Shorter than the outbox's claim lease (OUTBOX_CLAIM_LEASE_SECONDS).
    "timeout": env_int("EMAIL_TIMEOUT", 10),
}
MAILERS = {
    "default": {
        "BACKEND": _EMAIL_BACKEND,
        "OPTIONS": _SMTP_OPTIONS if _EMAIL_BACKEND.endswith("smtp.EmailBackend") else {},
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "support@example.com")

# --- Email channel (docs/email.md) ---------------------------------------------------------------
# The domain of the Message-IDs the product puts on the mail it sends; inbound mail carrying
# one is our own loop and never opens a ticket.
EMAIL_MESSAGE_ID_DOMAIN = os.environ.get(
    "EMAIL_MESSAGE_ID_DOMAIN", DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1] or "crm.localhost"
)
# Attachments larger than this are not kept (the message says so); 25 MB is Gmail's limit.
EMAIL_ATTACHMENT_MAX_BYTES = env_int("EMAIL_ATTACHMENT_MAX_BYTES", 25 * 1024 * 1024)
# Providers' inbound webhooks (django-anymail) authenticate with HTTP basic auth "user:password";
# without it they answer 404. Each provider's own signing key is set as anymail documents.
ANYMAIL = {"WEBHOOK_SECRET": os.environ.get("ANYMAIL_WEBHOOK_SECRET", "")}
# How many messages the IMAP poller fetches per round trip (bounds its memory).
EMAIL_IMAP_BATCH = env_int("EMAIL_IMAP_BATCH", 50)
# Seconds an IMAP connection may wait on the server.
EMAIL_IMAP_TIMEOUT_SECONDS = env_int("EMAIL_IMAP_TIMEOUT_SECONDS", 30)

# --- Logging --------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}

# --- Metrics and CLV ------------------------------------------------------------------------------

# A customer who bought nothing for this many days is lost (churn rate, retention rate).
METRICS_CHURN_INACTIVITY_DAYS = env_int("METRICS_CHURN_INACTIVITY_DAYS", 365)
# The metrics API keeps each answer in the cache until the data it reads changes
# (metrics/answer_cache.py), and at most this long: the backstop for slices changed on other
# rows (a customer's segment). 0 turns the cache off.
METRICS_ANSWER_CACHE_SECONDS = env_int("METRICS_ANSWER_CACHE_SECONDS", 300)
# Predictive CLV (BG/NBD + Gamma-Gamma): the time unit the models count in ("week" or "day"),
# the horizon the value is predicted over, and the yearly discount rate applied to it.
CLV_TIME_UNIT = os.environ.get("CLV_TIME_UNIT", "week")
CLV_HORIZON_MONTHS = env_int("CLV_HORIZON_MONTHS", 12)
CLV_ANNUAL_DISCOUNT_RATE = float(os.environ.get("CLV_ANNUAL_DISCOUNT_RATE", "0.10"))
# The calibration check fits on all but the last this many days and predicts them.
CLV_HOLDOUT_DAYS = env_int("CLV_HOLDOUT_DAYS", 91)
# The simple CLV formula: AOV x purchases per year x expected lifespan x margin. The margin
# applies where product costs are unknown.
CLV_EXPECTED_LIFESPAN_YEARS = float(os.environ.get("CLV_EXPECTED_LIFESPAN_YEARS", "3"))
CLV_DEFAULT_MARGIN = float(os.environ.get("CLV_DEFAULT_MARGIN", "0.30"))

# PostgreSQL covers index-only scans with INCLUDE columns (metrics.PurchaseDay); SQLite ignores
# them and keeps the key columns, which is all it needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
