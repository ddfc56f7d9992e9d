from __future__ import annotations

import ipaddress

import pytest

from subgroups.config import Settings, SettingsError


def test_security_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "SUBGROUPS_TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8::1",
            "SUBGROUPS_RATE_LIMIT_SET": "10/second",
            "SUBGROUPS_RATE_LIMIT_GET": "100 per day",
            "SUBGROUPS_REDIS_URL": "redis://:hunter2@cache:6379/1",
            "SUBGROUPS_REDIS_PREFIX": "prod",
            "SUBGROUPS_BODY_TIMEOUT_SECONDS": "3.5",
            "SUBGROUPS_METRICS_ALLOWED_IPS": "192.0.2.0/24",
            "SUBGROUPS_KEY_TOUCH_SECONDS": "60",
        }
    )

    assert settings.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("2001:db8::1/128"),
    )
    assert (settings.rate_limit_set, settings.rate_limit_get) == ("10/second", "100 per day")
    assert (settings.redis_prefix, settings.body_timeout_seconds) == ("prod", 3.5)
    assert settings.metrics_allowed == (ipaddress.ip_network("192.0.2.0/24"),)
    assert settings.key_touch_seconds == 60
    assert settings.redacted_redis_url() == "redis://:***@cache:6379/1"
    assert "hunter2" not in repr(settings)


def test_the_defaults_are_the_contracts() -> None:
    settings = Settings.from_env({})

    assert (settings.rate_limit_set, settings.rate_limit_get) == ("5000/minute", "250000/hour")
    assert settings.trusted_proxies == ()
    assert settings.redis_url is None
    assert [str(n) for n in settings.metrics_allowed] == ["127.0.0.0/8", "::1/128"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SUBGROUPS_TRUSTED_PROXIES", "10.0.0.0/8, not-an-address"),
        ("SUBGROUPS_RATE_LIMIT_SET", "lots"),
        ("SUBGROUPS_RATE_LIMIT_GET", "0/minute"),
        ("SUBGROUPS_REDIS_URL", "http://cache:6379"),
        ("SUBGROUPS_BODY_TIMEOUT_SECONDS", "0"),
        ("SUBGROUPS_METRICS_ALLOWED_IPS", "300.1.1.1"),
    ],
)
def test_unsafe_or_malformed_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
