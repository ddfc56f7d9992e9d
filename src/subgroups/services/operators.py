"""Dashboard users: creating them, signing them in, and their sessions.

Passwords are hashed with argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane)
rather than argon2-cffi's heavier defaults, so that a few sign-in attempts at once cannot occupy
every core of a small server. Hashing is slow on purpose, so it runs in a worker thread and never
blocks the event loop. Hashes made with other parameters are upgraded at the next successful sign-in.

Lockout: after `MAX_FAILURES` failed sign-ins for one email from one client address within
`FAILURE_WINDOW`, that email is refused from that address for `LOCKOUT` (even with the right
password). Keying on the pair means an attacker cannot lock a real user out from everywhere, while
guessing from one address is capped at 5 tries per 15 minutes. A successful sign-in forgets the
failures.

Sessions live in the database: the cookie carries a random 256-bit token and only its SHA-256 is
stored, so a stolen database does not yield live cookies, and signing out ends a session for good.
There is no signing secret to configure.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Final, NoReturn

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from subgroups.domain.identifiers import normalise_email
from subgroups.domain.operators import NewSession, Operator, OperatorSession
from subgroups.errors import InvalidRequest, NotFound, SignInRefused
from subgroups.services.ports import Clock, OperatorStore

MAX_FAILURES: Final = 5
FAILURE_WINDOW: Final = timedelta(minutes=15)
LOCKOUT: Final = timedelta(minutes=15)
MIN_PASSWORD_LENGTH: Final = 10
MAX_PASSWORD_LENGTH: Final = 1024

WRONG_CREDENTIALS: Final = "Wrong email or password"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _locked(until: datetime, now: datetime) -> SignInRefused:
    message = (
        "Too many failed sign-ins from this address:"
        f" try again after {until:%H:%M} UTC ({until:%Y-%m-%d})"
    )
    return SignInRefused(message, retry_after=max(1, int((until - now).total_seconds())))


class OperatorService:
    def __init__(
        self,
        *,
        operators: OperatorStore,
        clock: Clock,
        session_lifetime: timedelta = timedelta(hours=12),
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._operators = operators
        self._clock = clock
        self._lifetime = session_lifetime
        self._hasher = hasher or PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
        self._decoy_hash: str | None = None

    async def create(self, *, email: str, password: str) -> Operator:
        address = _email(email)
        _check_password(password)
        hashed = await asyncio.to_thread(self._hasher.hash, password)
        return await self._operators.create(
            email=address, password_hash=hashed, at=self._clock.now()
        )

    async def list(self) -> list[Operator]:
        return await self._operators.list()

    async def set_password(self, *, email: str, password: str) -> Operator:
        """Replaces the password and signs the operator out everywhere."""
        _check_password(password)
        found = await self._operators.find(_email(email))
        if found is None:
            raise NotFound(f"No dashboard user '{email}'")
        operator, _ = found
        hashed = await asyncio.to_thread(self._hasher.hash, password)
        await self._operators.set_password_hash(operator.id, hashed)
        await self._operators.end_sessions(operator.id)
        return operator

    async def sign_in(self, *, email: str, password: str, client_ip: str) -> NewSession:
        """A new session; raises SignInRefused for a wrong email or password, or while locked."""
        address = _sign_in_email(email)
        now = self._clock.now()
        locked_until = await self._operators.locked_until(address, client_ip)
        if locked_until is not None and locked_until > now:
            raise _locked(locked_until, now)
        found = await self._operators.find(address)
        stored = found[1] if found else self._decoy()
        verified = await asyncio.to_thread(self._verify, stored, password)
        if found is None or not verified:
            await self._fail(address, client_ip, now)
        operator, stored = found
        await self._operators.clear_failures(address, client_ip)
        if self._hasher.check_needs_rehash(stored):
            rehashed = await asyncio.to_thread(self._hasher.hash, password)
            await self._operators.set_password_hash(operator.id, rehashed)
        token = secrets.token_urlsafe(32)
        session = await self._operators.start_session(
            token_hash=_token_hash(token),
            operator=operator,
            csrf_token=secrets.token_urlsafe(32),
            at=now,
            expires_at=now + self._lifetime,
        )
        return NewSession(session, token)

    async def session(self, token: str) -> OperatorSession | None:
        if not token or len(token) > 128:
            return None
        return await self._operators.session(_token_hash(token), now=self._clock.now())

    async def sign_out(self, token: str) -> None:
        await self._operators.end_session(_token_hash(token))

    def _decoy(self) -> str:
        """A hash to verify against when the email is unknown, so both cases take as long."""
        if self._decoy_hash is None:
            self._decoy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        return self._decoy_hash

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _fail(self, email: str, client_ip: str, now: datetime) -> NoReturn:
        failures = await self._operators.count_failure(
            email, client_ip, at=now, window_start=now - FAILURE_WINDOW
        )
        if failures >= MAX_FAILURES:
            until = now + LOCKOUT
            await self._operators.lock(email, client_ip, until=until)
            raise _locked(until, now)
        raise SignInRefused(WRONG_CREDENTIALS)


def _email(value: str) -> str:
    try:
        return normalise_email(value)
    except InvalidRequest:
        raise InvalidRequest(f"Invalid email address: '{value}'") from None


def _sign_in_email(value: str) -> str:
    """The email as stored, or for a malformed one its trimmed lowercase form (still counted)."""
    try:
        return normalise_email(value)[:320]
    except InvalidRequest:
        return value.strip().lower()[:320]


def _check_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"A password is {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
