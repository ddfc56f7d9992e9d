"""Settings: read from the environment once, checked, and passed down. Nothing else reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlalchemy.engine import make_url

DEFAULT_DATABASE_URL = "sqlite:///subgroups.db"


class SettingsError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    db_pool_size: int = 10
    # FULL: a 201 survives a power cut. NORMAL (WAL) survives a crash of the process only.
    sqlite_synchronous: str = "FULL"
    key_cache_seconds: float = 2.0
    log_level: str = "INFO"
    # Dashboard sign-in sessions end this many hours after sign-in.
    dashboard_session_hours: float = 12.0
    # "auto": session cookies are Secure when the request came over HTTPS; "always": set it even
    # when TLS ends at a proxy in front of us and the request reaches us as plain HTTP.
    dashboard_secure_cookies: str = "auto"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        settings = cls(
            database_url=env.get("SUBGROUPS_DATABASE_URL", DEFAULT_DATABASE_URL),
            db_pool_size=_int(env, "SUBGROUPS_DB_POOL_SIZE", 10, minimum=1),
            sqlite_synchronous=env.get("SUBGROUPS_SQLITE_SYNCHRONOUS", "FULL").upper(),
            key_cache_seconds=_float(env, "SUBGROUPS_KEY_CACHE_SECONDS", 2.0),
            log_level=env.get("SUBGROUPS_LOG_LEVEL", "INFO").upper(),
            dashboard_session_hours=_float(env, "SUBGROUPS_DASHBOARD_SESSION_HOURS", 12.0),
            dashboard_secure_cookies=env.get("SUBGROUPS_DASHBOARD_SECURE_COOKIES", "auto").lower(),
        )
        settings.check()
        return settings

    def with_database(self, url: str) -> Settings:
        updated = replace(self, database_url=url)
        updated.check()
        return updated

    def check(self) -> None:
        if make_url(self.database_url).get_backend_name() not in (
            "sqlite",
            "postgresql",
            "postgres",
        ):
            raise SettingsError("SUBGROUPS_DATABASE_URL must be a sqlite:/// or postgresql:// URL")
        if self.sqlite_synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise SettingsError("SUBGROUPS_SQLITE_SYNCHRONOUS must be FULL, EXTRA or NORMAL")
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError("SUBGROUPS_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        if self.dashboard_secure_cookies not in ("auto", "always"):
            raise SettingsError("SUBGROUPS_DASHBOARD_SECURE_COOKIES must be auto or always")
        if not 0 < self.dashboard_session_hours <= 24 * 30:
            raise SettingsError("SUBGROUPS_DASHBOARD_SESSION_HOURS must be above 0 and at most 720")

    def redacted_database_url(self) -> str:
        return make_url(self.database_url).render_as_string(hide_password=True)


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
