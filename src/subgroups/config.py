"""Settings: read from the environment once, checked, and passed down. Nothing else reads os.environ."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from limits import parse
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from subgroups.domain.models import Network
from subgroups.domain.webhooks import DEFAULT_RETRY_SCHEDULE, parse_schedule

DEFAULT_DATABASE_URL = "sqlite:///subgroups.db"
DATABASE_URL_FORMS = (
    "sqlite:///relative.db, sqlite:////absolute.db or postgresql://user:pass@host:5432/db"
)
DEFAULT_RATE_LIMIT_SET = "5000/minute"
DEFAULT_RATE_LIMIT_GET = "250000/hour"
DEFAULT_RATE_LIMIT_PUBLIC = "60/minute"
LOOPBACK = ("127.0.0.0/8", "::1/128")


class SettingsError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Settings:
    # URLs may hold passwords: kept out of repr (use the redacted_* methods to show them).
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    db_pool_size: int = 10  # per pool; on SQLite also the number of status/get reader threads
    # FULL: a 201 survives a power cut. NORMAL (WAL) survives a crash of the process only.
    sqlite_synchronous: str = "FULL"
    key_cache_seconds: float = 2.0
    # How long the set endpoints trust a group they looked up (archival is re-checked on write).
    group_cache_seconds: float = 2.0
    # A key's last_used_at is written at most once per this many seconds per process.
    key_touch_seconds: float = 300.0
    # An import whose runner has not renewed its lease for this long may be taken over (resumed)
    # by another process: a runner renews it with every batch, about once a second.
    import_lease_seconds: float = 30.0
    # The largest CSV body POST /imports takes (the file is kept with its job until it has run).
    import_max_bytes: int = 100 * 1024 * 1024
    # Whether this process runs the imports sent over HTTP or from the dashboard: `serve` does
    # unless told not to, for deployments that run them from `subgroups worker` only.
    run_imports: bool = True
    # How often an idle import loop looks for a queued import.
    import_poll_seconds: float = 1.0
    log_level: str = "INFO"
    # Dashboard sign-in sessions end this many hours after sign-in.
    dashboard_session_hours: float = 12.0
    # "auto": session cookies are Secure when the request came over HTTPS; "always": set it even
    # when TLS ends at a proxy in front of us and the request reaches us as plain HTTP.
    dashboard_secure_cookies: str = "auto"
    # Peers whose X-Forwarded-For is believed (load balancers, reverse proxies). Empty: none.
    trusted_proxies: tuple[Network, ...] = ()
    # Rate limits in `limits` notation ("5000/minute"), per workspace (contract §8).
    rate_limit_set: str = DEFAULT_RATE_LIMIT_SET
    rate_limit_get: str = DEFAULT_RATE_LIMIT_GET
    # Shared counters for several processes; None counts in this process only.
    redis_url: str | None = field(default=None, repr=False)
    redis_prefix: str = "subgroups"
    # The person's pages (§11: unsubscribe, preferences), which need no key, per client address.
    rate_limit_public: str = DEFAULT_RATE_LIMIT_PUBLIC
    # The base URL people reach the person's pages at, which links are built on (no trailing
    # slash); None: the address the minting request reached this server at.
    public_url: str | None = None
    # A request body must arrive in full within this many seconds (slow senders get a 408).
    body_timeout_seconds: float = 15.0
    # Who may read GET /metrics; everyone else gets a 404.
    metrics_allowed: tuple[Network, ...] = field(
        default_factory=lambda: tuple(ipaddress.ip_network(n) for n in LOOPBACK)
    )
    # Seals secrets kept in the database (webhook signing secrets): 32 bytes. None: on SQLite a
    # key file beside the database is made and used; PostgreSQL needs it set (every process
    # must share it).
    secret_key: bytes | None = field(default=None, repr=False)
    # Webhooks (contract §9). Whether this process delivers: `serve` does unless told not to,
    # for deployments that deliver from `subgroups worker` only.
    deliver_webhooks: bool = True
    webhook_allow_private: bool = False
    webhook_retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    # Requests in flight at once to one endpoint.
    webhook_concurrency: int = 10
    # A dispatcher holds an endpoint this long without renewing before another may take it over.
    webhook_lease_seconds: float = 30.0
    # How often an idle dispatcher looks for new events.
    webhook_poll_seconds: float = 0.2
    # Delivered rows are kept this many days (failed and pending ones until they are replayed).
    webhook_keep_days: float = 7.0
    # "off" stops recording requests, the writer's batches and the pools (GET /metrics still
    # answers, with the counters that are not on a hot path): for measuring what recording costs.
    metrics: str = "on"
    # Where the workers of one server keep their metrics, so that one scrape sees them all; set
    # by `subgroups serve --workers N` for its workers (prometheus_client's own variable).
    metrics_multiprocess_dir: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        settings = cls(
            database_url=env.get("SUBGROUPS_DATABASE_URL", DEFAULT_DATABASE_URL),
            db_pool_size=_int(env, "SUBGROUPS_DB_POOL_SIZE", 10, minimum=1),
            sqlite_synchronous=env.get("SUBGROUPS_SQLITE_SYNCHRONOUS", "FULL").upper(),
            key_cache_seconds=_float(env, "SUBGROUPS_KEY_CACHE_SECONDS", 2.0),
            group_cache_seconds=_float(env, "SUBGROUPS_GROUP_CACHE_SECONDS", 2.0),
            key_touch_seconds=_float(env, "SUBGROUPS_KEY_TOUCH_SECONDS", 300.0),
            import_lease_seconds=_float(env, "SUBGROUPS_IMPORT_LEASE_SECONDS", 30.0),
            import_max_bytes=_int(
                env, "SUBGROUPS_IMPORT_MAX_BYTES", 100 * 1024 * 1024, minimum=1024
            ),
            run_imports=_bool(env, "SUBGROUPS_RUN_IMPORTS", True),
            import_poll_seconds=_float(env, "SUBGROUPS_IMPORT_POLL_SECONDS", 1.0),
            log_level=env.get("SUBGROUPS_LOG_LEVEL", "INFO").upper(),
            dashboard_session_hours=_float(env, "SUBGROUPS_DASHBOARD_SESSION_HOURS", 12.0),
            dashboard_secure_cookies=env.get("SUBGROUPS_DASHBOARD_SECURE_COOKIES", "auto").lower(),
            trusted_proxies=_networks(env, "SUBGROUPS_TRUSTED_PROXIES", ()),
            rate_limit_set=env.get("SUBGROUPS_RATE_LIMIT_SET", DEFAULT_RATE_LIMIT_SET),
            rate_limit_get=env.get("SUBGROUPS_RATE_LIMIT_GET", DEFAULT_RATE_LIMIT_GET),
            redis_url=env.get("SUBGROUPS_REDIS_URL") or None,
            redis_prefix=env.get("SUBGROUPS_REDIS_PREFIX", "subgroups"),
            rate_limit_public=env.get("SUBGROUPS_RATE_LIMIT_PUBLIC", DEFAULT_RATE_LIMIT_PUBLIC),
            public_url=(env.get("SUBGROUPS_PUBLIC_URL") or "").rstrip("/") or None,
            body_timeout_seconds=_float(env, "SUBGROUPS_BODY_TIMEOUT_SECONDS", 15.0),
            metrics_allowed=_networks(env, "SUBGROUPS_METRICS_ALLOWED_IPS", LOOPBACK),
            secret_key=_secret_key(env, "SUBGROUPS_SECRET_KEY"),
            deliver_webhooks=_bool(env, "SUBGROUPS_DELIVER_WEBHOOKS", True),
            webhook_allow_private=_bool(env, "SUBGROUPS_WEBHOOK_ALLOW_PRIVATE", False),
            webhook_retry_schedule=_schedule(env, "SUBGROUPS_WEBHOOK_RETRY_SCHEDULE"),
            webhook_concurrency=_int(env, "SUBGROUPS_WEBHOOK_CONCURRENCY", 10, minimum=1),
            webhook_lease_seconds=_float(env, "SUBGROUPS_WEBHOOK_LEASE_SECONDS", 30.0),
            webhook_poll_seconds=_float(env, "SUBGROUPS_WEBHOOK_POLL_SECONDS", 0.2),
            webhook_keep_days=_float(env, "SUBGROUPS_WEBHOOK_KEEP_DAYS", 7.0),
            metrics=env.get("SUBGROUPS_METRICS", "on").lower(),
            metrics_multiprocess_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
        )
        settings.check(database_url_source="SUBGROUPS_DATABASE_URL")
        return settings

    def with_database(self, url: str) -> Settings:
        updated = replace(self, database_url=url)
        updated.check()
        return updated

    def check(self, *, database_url_source: str = "database URL") -> None:
        """Raises SettingsError for the first unusable value; `database_url_source` names where
        the URL came from in that message."""
        if _parse_database_url(self.database_url) is None:
            shown = _hide_password(self.database_url)
            raise SettingsError(
                f"{database_url_source} {shown!r} is not valid: use {DATABASE_URL_FORMS}"
            )
        if self.sqlite_synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise SettingsError("SUBGROUPS_SQLITE_SYNCHRONOUS must be FULL, EXTRA or NORMAL")
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError("SUBGROUPS_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        if self.dashboard_secure_cookies not in ("auto", "always"):
            raise SettingsError("SUBGROUPS_DASHBOARD_SECURE_COOKIES must be auto or always")
        if not 0 < self.dashboard_session_hours <= 24 * 30:
            raise SettingsError("SUBGROUPS_DASHBOARD_SESSION_HOURS must be above 0 and at most 720")
        for name, value in (
            ("SUBGROUPS_RATE_LIMIT_SET", self.rate_limit_set),
            ("SUBGROUPS_RATE_LIMIT_GET", self.rate_limit_get),
            ("SUBGROUPS_RATE_LIMIT_PUBLIC", self.rate_limit_public),
        ):
            try:
                valid = parse(value).amount >= 1
            except ValueError:
                valid = False
            if not valid:
                raise SettingsError(f"{name} must be a rate such as 5000/minute, not {value!r}")
        if self.redis_url is not None and not self.redis_url.startswith(("redis://", "rediss://")):
            raise SettingsError("SUBGROUPS_REDIS_URL must be a redis:// or rediss:// URL")
        if self.public_url is not None and not _is_base_url(self.public_url):
            raise SettingsError(
                "SUBGROUPS_PUBLIC_URL must be an http:// or https:// URL such as"
                " https://consent.example.com (no query or fragment)"
            )
        if self.body_timeout_seconds <= 0:
            raise SettingsError("SUBGROUPS_BODY_TIMEOUT_SECONDS must be positive")
        if self.webhook_lease_seconds < 1:
            raise SettingsError("SUBGROUPS_WEBHOOK_LEASE_SECONDS must be at least 1")
        if not 0 < self.webhook_poll_seconds <= 60:
            raise SettingsError("SUBGROUPS_WEBHOOK_POLL_SECONDS must be above 0 and at most 60")
        if not 0 < self.import_poll_seconds <= 60:
            raise SettingsError("SUBGROUPS_IMPORT_POLL_SECONDS must be above 0 and at most 60")
        if self.metrics not in ("on", "off"):
            raise SettingsError("SUBGROUPS_METRICS must be on or off")

    def redacted_database_url(self) -> str:
        return make_url(self.database_url).render_as_string(hide_password=True)

    def sqlite_file(self) -> str | None:
        """The file of a SQLite database (relative to the working directory, as given), else None."""
        parsed = _parse_database_url(self.database_url)
        return (
            parsed.database
            if parsed is not None and parsed.get_backend_name() == "sqlite"
            else None
        )

    def redacted_redis_url(self) -> str | None:
        if self.redis_url is None:
            return None
        return make_url(self.redis_url).render_as_string(hide_password=True)


def _parse_database_url(url: str) -> URL | None:
    """The URL if it names a database we can use, else None.

    SQLite takes a file and nothing else: `sqlite://relative.db` (two slashes) would make
    relative.db a host name, and an in-memory database would vanish with the process that made it.
    The driver, if one is named (`postgresql+asyncpg://`), is ours to choose and is replaced."""
    try:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        return None
    if backend in ("postgresql", "postgres"):
        return parsed
    no_server = (parsed.host, parsed.port, parsed.username, parsed.password) == (None,) * 4
    if backend == "sqlite" and no_server and parsed.database not in (None, "", ":memory:"):
        return parsed
    return None


def _is_base_url(url: str) -> bool:
    parts = urlsplit(url)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.netloc)
        and not (parts.query or parts.fragment)
    )


def _hide_password(url: str) -> str:
    # By pattern, not by parsing: the URL being shown is one that did not parse.
    return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name} must not be negative")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise SettingsError(f"{name} must be true or false, not {raw!r}")
    return value in ("true", "1", "yes")


def _secret_key(env: Mapping[str, str], name: str) -> bytes | None:
    """32 bytes, written in base64 (`openssl rand -base64 32`)."""
    raw = env.get(name)
    if not raw:
        return None
    try:
        key = base64.b64decode(raw.strip(), altchars=b"-_" if "-" in raw or "_" in raw else None)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise SettingsError(f"{name} must be 32 bytes in base64, such as `openssl rand -base64 32`")
    return key


def _schedule(env: Mapping[str, str], name: str) -> tuple[float, ...]:
    raw = env.get(name)
    if raw is None:
        return DEFAULT_RETRY_SCHEDULE
    try:
        return parse_schedule(raw)
    except ValueError as error:
        raise SettingsError(f"{name} {error}") from None


def _networks(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[Network, ...]:
    """A comma-separated list of addresses and CIDR ranges, IPv4 or IPv6."""
    raw = env.get(name)
    items = default if raw is None else tuple(i.strip() for i in raw.split(",") if i.strip())
    try:
        return tuple(ipaddress.ip_network(item, strict=False) for item in items)
    except ValueError as error:
        raise SettingsError(f"{name}: {error}") from None
