"""OperatorService: dashboard users, their passwords, sessions, and the sign-in lockout.

The hasher is argon2 at its cheapest, so each hash takes microseconds; the service's own default is
tested where it matters, in the rehash on sign-in.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from subgroups.errors import Conflict, InvalidRequest, NotFound, SignInRefused
from subgroups.services.operators import (
    FAILURE_WINDOW,
    LOCKOUT,
    MAX_FAILURES,
    WRONG_CREDENTIALS,
    OperatorService,
)
from tests.clock import SettableClock
from tests.fakes import FakeOperatorStore
from tests.unit.services.conftest import NOW

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery"
HERE = "198.51.100.7"
ELSEWHERE = "203.0.113.9"
LIFETIME = timedelta(hours=12)


@pytest.fixture
def store() -> FakeOperatorStore:
    return FakeOperatorStore()


@pytest.fixture
async def service(store: FakeOperatorStore, clock: SettableClock) -> OperatorService:
    service = OperatorService(operators=store, clock=clock, session_lifetime=LIFETIME, hasher=CHEAP)
    await service.create(email="ops@example.com", password=PASSWORD)
    return service


async def fail(service: OperatorService, *, times: int = 1, ip: str = HERE) -> SignInRefused:
    """Signs in `times` times with a wrong password; the last refusal."""
    for _ in range(times - 1):
        with pytest.raises(SignInRefused):
            await service.sign_in(email="ops@example.com", password="wrong", client_ip=ip)
    with pytest.raises(SignInRefused) as last:
        await service.sign_in(email="ops@example.com", password="wrong", client_ip=ip)
    return last.value


async def test_an_operator_is_stored_by_lowercase_email_with_a_password_hash(
    service: OperatorService, store: FakeOperatorStore
) -> None:
    created = await service.create(email="  Admin@Example.COM ", password="a long secret")

    operator, stored = store.rows[created.id]
    assert (operator.email, operator.created_at) == ("admin@example.com", NOW)
    assert "a long secret" not in stored
    assert CHEAP.verify(stored, "a long secret")


async def test_an_email_is_taken_once(service: OperatorService) -> None:
    with pytest.raises(Conflict):
        await service.create(email="OPS@example.com", password=PASSWORD)


@pytest.mark.parametrize("password", ["x" * 9, "x" * 1025])
async def test_a_password_is_10_to_1024_characters(service: OperatorService, password: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await service.create(email="new@example.com", password=password)

    assert caught.value.message == "A password is 10 to 1024 characters"


async def test_an_invalid_email_is_refused_as_sent(service: OperatorService) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await service.create(email="not an email", password=PASSWORD)

    assert caught.value.message == "Invalid email address: 'not an email'"


async def test_a_sign_in_starts_a_session_stored_by_the_tokens_hash(
    service: OperatorService, store: FakeOperatorStore
) -> None:
    new = await service.sign_in(email=" OPS@example.com", password=PASSWORD, client_ip=HERE)

    assert new.session.operator.email == "ops@example.com"
    assert new.session.expires_at == NOW + LIFETIME
    assert list(store.sessions) == [hashlib.sha256(new.token.encode()).hexdigest()]
    assert await service.session(new.token) == new.session


@pytest.mark.parametrize(
    ("email", "password"),
    [("ops@example.com", "wrong password"), ("nobody@example.com", PASSWORD)],
)
async def test_a_wrong_email_and_a_wrong_password_are_refused_alike(
    service: OperatorService, store: FakeOperatorStore, email: str, password: str
) -> None:
    with pytest.raises(SignInRefused) as caught:
        await service.sign_in(email=email, password=password, client_ip=HERE)

    assert (caught.value.message, caught.value.retry_after) == (WRONG_CREDENTIALS, None)
    assert store.sessions == {}
    assert store.failures[(email, HERE)].failures == 1


async def test_the_fifth_failure_locks_the_email_from_that_address(
    service: OperatorService, clock: SettableClock
) -> None:
    refusal = await fail(service, times=MAX_FAILURES)

    assert refusal.retry_after == LOCKOUT.total_seconds()
    assert refusal.message == (
        "Too many failed sign-ins from this address: try again after 12:15 UTC (2026-03-01)"
    )
    clock.advance(timedelta(minutes=5))
    with pytest.raises(SignInRefused) as locked:
        await service.sign_in(email="ops@example.com", password=PASSWORD, client_ip=HERE)
    assert locked.value.retry_after == (LOCKOUT - timedelta(minutes=5)).total_seconds()


async def test_four_failures_do_not_lock(service: OperatorService) -> None:
    refusal = await fail(service, times=MAX_FAILURES - 1)

    assert refusal.message == WRONG_CREDENTIALS
    assert await service.sign_in(email="ops@example.com", password=PASSWORD, client_ip=HERE)


async def test_a_lock_on_one_address_leaves_the_others_open(service: OperatorService) -> None:
    await fail(service, times=MAX_FAILURES)

    assert await service.sign_in(email="ops@example.com", password=PASSWORD, client_ip=ELSEWHERE)


async def test_the_lock_ends_after_the_lockout(
    service: OperatorService, store: FakeOperatorStore, clock: SettableClock
) -> None:
    await fail(service, times=MAX_FAILURES)
    clock.advance(LOCKOUT)

    assert await service.sign_in(email="ops@example.com", password=PASSWORD, client_ip=HERE)
    assert store.failures == {}


async def test_failures_older_than_the_window_are_forgotten(
    service: OperatorService, clock: SettableClock
) -> None:
    await fail(service, times=MAX_FAILURES - 1)
    clock.advance(FAILURE_WINDOW + timedelta(seconds=1))

    refusal = await fail(service)

    assert refusal.message == WRONG_CREDENTIALS


async def test_a_success_forgets_the_failures(service: OperatorService) -> None:
    await fail(service, times=MAX_FAILURES - 1)
    await service.sign_in(email="ops@example.com", password=PASSWORD, client_ip=HERE)

    refusal = await fail(service, times=MAX_FAILURES - 1)

    assert refusal.message == WRONG_CREDENTIALS


async def test_failures_count_per_email_however_it_is_written(service: OperatorService) -> None:
    for email in ["OPS@example.com", " ops@EXAMPLE.com", "ops@example.com"]:
        with pytest.raises(SignInRefused):
            await service.sign_in(email=email, password="wrong", client_ip=HERE)

    refusal = await fail(service, times=MAX_FAILURES - 3)

    assert refusal.retry_after is not None


async def test_a_hash_with_other_parameters_is_upgraded_at_sign_in(
    store: FakeOperatorStore, clock: SettableClock
) -> None:
    older = PasswordHasher(time_cost=1, memory_cost=16, parallelism=1)
    operator = await store.create(
        email="old@example.com", password_hash=older.hash(PASSWORD), at=NOW
    )
    service = OperatorService(operators=store, clock=clock, hasher=CHEAP)

    await service.sign_in(email="old@example.com", password=PASSWORD, client_ip=HERE)

    upgraded = store.rows[operator.id][1]
    assert not CHEAP.check_needs_rehash(upgraded)
    assert CHEAP.verify(upgraded, PASSWORD)


async def test_a_new_password_ends_every_session(
    service: OperatorService, store: FakeOperatorStore
) -> None:
    first = await service.sign_in(email="ops@example.com", password=PASSWORD, client_ip=HERE)

    await service.set_password(email="Ops@Example.com", password="another long one")

    assert await service.session(first.token) is None
    with pytest.raises(SignInRefused):
        await service.sign_in(email="ops@example.com", password=PASSWORD, client_ip=HERE)
    assert await service.sign_in(
        email="ops@example.com", password="another long one", client_ip=HERE
    )


async def test_a_new_password_for_nobody_is_not_found(service: OperatorService) -> None:
    with pytest.raises(NotFound):
        await service.set_password(email="nobody@example.com", password=PASSWORD)


async def test_a_session_ends_when_it_expires_or_signs_out(
    service: OperatorService, clock: SettableClock
) -> None:
    expiring = await service.sign_in(email="ops@example.com", password=PASSWORD, client_ip=HERE)
    leaving = await service.sign_in(email="ops@example.com", password=PASSWORD, client_ip=HERE)

    await service.sign_out(leaving.token)
    clock.advance(LIFETIME - timedelta(seconds=1))
    alive_before = await service.session(expiring.token)
    clock.advance(timedelta(seconds=1))

    assert alive_before == expiring.session
    assert await service.session(expiring.token) is None
    assert await service.session(leaving.token) is None


@pytest.mark.parametrize("token", ["", "x" * 129])
async def test_an_empty_or_overlong_token_is_no_session(
    service: OperatorService, token: str
) -> None:
    assert await service.session(token) is None


async def test_a_new_session_sweeps_the_expired_ones(
    service: OperatorService, store: FakeOperatorStore, clock: SettableClock
) -> None:
    await service.sign_in(email="ops@example.com", password=PASSWORD, client_ip=HERE)
    clock.advance(LIFETIME + timedelta(seconds=1))

    latest = await service.sign_in(email="ops@example.com", password=PASSWORD, client_ip=HERE)

    assert list(store.sessions) == [hashlib.sha256(latest.token.encode()).hexdigest()]
