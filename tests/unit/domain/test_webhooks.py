"""The webhook rules that need no I/O: the retry schedule, Retry-After, which URLs are refused,
what a delivery's body holds, and the settings that tune them."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from subgroups.config import Settings, SettingsError
from subgroups.domain.models import Source, State, StateChange
from subgroups.domain.webhooks import (
    DEFAULT_RETRY_SCHEDULE,
    KEPT_TEXT_BYTES,
    Attempt,
    DeliveryStatus,
    Outcome,
    check_events,
    check_url,
    event_body,
    is_public,
    kept_text,
    new_secret,
    outcome,
    parse_schedule,
    retry_after_seconds,
    webhook_id,
)
from subgroups.errors import InvalidRequest

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def decide(status: int | None, attempts: int, retry_after: str | None = None) -> Outcome:
    attempt = Attempt(status, 12, retry_after=retry_after)
    jitter = random.Random(1)  # noqa: S311 (jitter, not a secret)
    return outcome(attempt, attempts=attempts, schedule=DEFAULT_RETRY_SCHEDULE, now=NOW, rng=jitter)


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_a_2xx_is_delivered(status: int) -> None:
    assert decide(status, 1) == Outcome(DeliveryStatus.DELIVERED, None)


@pytest.mark.parametrize("status", [None, 301, 400, 404, 429, 500, 503])
def test_anything_else_is_tried_again_on_the_schedule_with_jitter(status: int | None) -> None:
    for attempts, wait in enumerate(DEFAULT_RETRY_SCHEDULE, start=1):
        decided = decide(status, attempts)
        assert decided.status is DeliveryStatus.PENDING
        assert decided.next_attempt_at is not None
        delay = (decided.next_attempt_at - NOW).total_seconds()
        assert wait * 0.9 <= delay <= wait * 1.1


def test_after_the_last_attempt_the_delivery_has_failed() -> None:
    last = len(DEFAULT_RETRY_SCHEDULE) + 1
    assert last == 10  # the first attempt and nine retries, as Standard Webhooks schedules them
    decided = decide(500, last)
    assert decided.status is DeliveryStatus.FAILED
    assert decided.next_attempt_at is None


def test_410_disables_the_endpoint_and_keeps_the_delivery_waiting() -> None:
    decided = decide(410, 3)
    assert decided.disables_endpoint
    assert decided.status is DeliveryStatus.PENDING


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_when_longer_than_the_schedule(status: int) -> None:
    decided = decide(status, 1, retry_after="120")
    assert decided.next_attempt_at == NOW + timedelta(seconds=120)
    date = "Wed, 02 Dec 2026 12:10:00 GMT"
    decided = decide(status, 1, retry_after=date)
    assert decided.next_attempt_at == NOW + timedelta(minutes=10)
    shorter = decide(status, 2, retry_after="1")  # the schedule says 5 minutes
    assert shorter.next_attempt_at is not None
    assert shorter.next_attempt_at - NOW >= timedelta(seconds=270)


def test_retry_after_is_ignored_on_other_codes_and_bounded_to_a_day() -> None:
    decided = decide(500, 1, retry_after="3600")
    assert decided.next_attempt_at is not None
    assert decided.next_attempt_at - NOW < timedelta(seconds=6)
    assert retry_after_seconds("999999999", now=NOW) == 86400
    assert retry_after_seconds("soon", now=NOW) is None
    assert retry_after_seconds("Tue, 01 Dec 2026 00:00:00 GMT", now=NOW) == 0


def test_a_schedule_is_seconds_separated_by_commas() -> None:
    assert parse_schedule("1,2.5,300") == (1.0, 2.5, 300.0)
    for bad in ("", "1,,2", "five", "-1", "999999999"):
        with pytest.raises(ValueError, match=r"seconds|wait"):
            parse_schedule(bad)


def test_the_settings_read_the_webhook_variables() -> None:
    settings = Settings.from_env(
        {
            "SUBGROUPS_WEBHOOK_RETRY_SCHEDULE": "1,2",
            "SUBGROUPS_WEBHOOK_ALLOW_PRIVATE": "true",
            "SUBGROUPS_DELIVER_WEBHOOKS": "false",
            "SUBGROUPS_SECRET_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        }
    )
    assert settings.webhook_retry_schedule == (1.0, 2.0)
    assert settings.webhook_allow_private
    assert not settings.deliver_webhooks
    assert settings.secret_key == bytes(range(32))
    assert "secret_key" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SUBGROUPS_WEBHOOK_RETRY_SCHEDULE", "soon", "SUBGROUPS_WEBHOOK_RETRY_SCHEDULE"),
        ("SUBGROUPS_WEBHOOK_ALLOW_PRIVATE", "maybe", "true or false"),
        ("SUBGROUPS_SECRET_KEY", "c2hvcnQ=", "32 bytes"),
        ("SUBGROUPS_WEBHOOK_LEASE_SECONDS", "0.5", "at least 1"),
    ],
)
def test_bad_webhook_settings_are_refused(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({name: value})


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/subgroups",
        "https://hooks.example.com:8443/a?b=c",
        "https://93.184.215.14/x",
    ],
)
def test_public_https_urls_are_taken(url: str) -> None:
    assert check_url(url, allow_private=False) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/x", "https://"),
        ("ftp://hooks.example.com/x", "https://"),
        ("https://127.0.0.1/x", "loopback, private or link-local"),
        ("https://10.1.2.3/x", "loopback, private or link-local"),
        ("https://169.254.169.254/latest/meta-data", "loopback, private or link-local"),
        ("https://[::1]/x", "loopback, private or link-local"),
        ("https://[::ffff:192.168.0.1]/x", "loopback, private or link-local"),
        ("https://user:pw@hooks.example.com/x", "user name or password"),
        ("https:///x", "no host"),
        ("https://hooks.example.com:99999/x", "not a valid URL"),
        ("https://hooks.example.com/" + "a" * 2000, "at most 2000"),
    ],
)
def test_urls_a_delivery_must_not_go_to_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        check_url(url, allow_private=False)


def test_private_and_plain_http_urls_are_taken_when_allowed() -> None:
    assert check_url("http://127.0.0.1:9000/x", allow_private=True)
    assert check_url("http://10.0.0.5/x", allow_private=True)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # shared address space (carrier-grade NAT)
        ("169.254.169.254", False),
        ("0.0.0.0", False),  # noqa: S104 (an address checked, not bound)
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_event_types_are_checked_and_default_to_all() -> None:
    assert check_events([]) == ("subscription.state_changed",)
    assert check_events(["subscription.state_changed"] * 2) == ("subscription.state_changed",)
    with pytest.raises(InvalidRequest, match=r"unknown event type .user\.deleted."):
        check_events(["user.deleted"])


def test_a_secret_is_whsec_and_32_random_bytes() -> None:
    import base64

    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_the_body_is_the_record_with_the_type_and_when_it_happened() -> None:
    change = StateChange(
        id=7,
        workspace_id=3,
        profile_id=11,
        external_id="ada",
        email="ada@example.com",
        phone=None,
        subscription_group_id="news",
        channel="email",
        old_state=State.SUBSCRIBED,
        new_state=State.UNSUBSCRIBED,
        occurred_at=NOW,
        source=Source.REST_API,
        api_key_id=5,
        request_id="r-1",
        client_ip="203.0.113.9",
    )
    body = orjson.loads(event_body(change))
    assert body["type"] == "subscription.state_changed"
    assert body["timestamp"] == "2026-12-02T12:00:00.000000+00:00"
    assert body["data"]["id"] == 7
    assert body["data"]["workspace_id"] == 3
    assert body["data"]["new_state"] == "unsubscribed"
    assert event_body(change) == event_body(change)  # the same on every attempt
    assert webhook_id("ep", 7) == webhook_id("ep", 7) != webhook_id("ep", 8)


def test_kept_text_is_at_most_a_kibibyte_of_whole_characters() -> None:
    assert kept_text("short") == "short"
    long = "é" * 1000  # 2000 bytes
    kept = kept_text(long)
    assert len(kept.encode()) <= KEPT_TEXT_BYTES
    assert kept == "é" * 512
