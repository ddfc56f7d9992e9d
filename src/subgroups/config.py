"""Settings: read from the environment once, checked, and passed down. Nothing else reads os.environ."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from limits import parse
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from subgroups.domain.models import Network

DEFAULT_DATABASE_URL = "sqlite:///subgroups.db"
DATABASE_URL_FORMS = (
    "sqlite:///relative.db, sqlite:////absolute.db or postgresql://user:pass@host:5432/db"
)
DEFAULT_RATE_LIMIT_SET = "5000/minute"
DEFAULT_RATE_LIMIT_GET = "250000/hour"
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
    # A request body must arrive in full within this many seconds (slow senders get a 408).
    body_timeout_seconds: float = 15.0
    # Who may read GET /metrics; everyone else gets a 404.
    metrics_allowed: tuple[Network, ...] = field(
        default_factory=lambda: tuple(ipaddress.ip_network(n) for n in LOOPBACK)
    )

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
            log_level=env.get("SUBGROUPS_LOG_LEVEL", "INFO").upper(),
            dashboard_session_hours=_float(env, "SUBGROUPS_DASHBOARD_SESSION_HOURS", 12.0),
            dashboard_secure_cookies=env.get("SUBGROUPS_DASHBOARD_SECURE_COOKIES", "auto").lower(),
            trusted_proxies=_networks(env, "SUBGROUPS_TRUSTED_PROXIES", ()),
            rate_limit_set=env.get("SUBGROUPS_RATE_LIMIT_SET", DEFAULT_RATE_LIMIT_SET),
            rate_limit_get=env.get("SUBGROUPS_RATE_LIMIT_GET", DEFAULT_RATE_LIMIT_GET),
            redis_url=env.get("SUBGROUPS_REDIS_URL") or None,
            redis_prefix=env.get("SUBGROUPS_REDIS_PREFIX", "subgroups"),
            body_timeout_seconds=_float(env, "SUBGROUPS_BODY_TIMEOUT_SECONDS", 15.0),
            metrics_allowed=_networks(env, "SUBGROUPS_METRICS_ALLOWED_IPS", LOOPBACK),
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
        ):
            try:
                valid = parse(value).amount >= 1
            except ValueError:
                valid = False
            if not valid:
                raise SettingsError(f"{name} must be a rate such as 5000/minute, not {value!r}")
        if self.redis_url is not None and not self.redis_url.startswith(("redis://", "rediss://")):
            raise SettingsError("SUBGROUPS_REDIS_URL must be a redis:// or rediss:// URL")
        if self.body_timeout_seconds <= 0:
            raise SettingsError("SUBGROUPS_BODY_TIMEOUT_SECONDS must be positive")

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


def _networks(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[Network, ...]:
    """A comma-separated list of addresses and CIDR ranges, IPv4 or IPv6."""
    raw = env.get(name)
    items = default if raw is None else tuple(i.strip() for i in raw.split(",") if i.strip())
    try:
        return tuple(ipaddress.ip_network(item, strict=False) for item in items)
    except ValueError as error:
        raise SettingsError(f"{name}: {error}") from None
