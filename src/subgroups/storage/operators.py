"""Dashboard users, their sessions and their failed sign-ins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, case, delete, literal, select, update
from sqlalchemy.exc import IntegrityError

from subgroups.domain.operators import Operator, OperatorSession
from subgroups.errors import Conflict
from subgroups.storage.engine import Database
from subgroups.storage.tables import Timestamp, operators
from subgroups.storage.tables import operator_sessions as sessions
from subgroups.storage.tables import operator_sign_in_failures as failures


class SqlOperatorStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, *, email: str, password_hash: str, at: datetime) -> Operator:
        def create(conn: Connection) -> int:
            taken = conn.execute(select(operators.c.id).where(operators.c.email == email))
            if taken.first() is not None:
                raise Conflict(f"A dashboard user '{email}' already exists")
            operator_id: int = conn.execute(
                operators.insert()
                .values(email=email, password_hash=password_hash, created_at=at)
                .returning(operators.c.id)
            ).scalar_one()
            return operator_id

        try:
            operator_id = await self._db.write(create)
        except IntegrityError:
            raise Conflict(f"A dashboard user '{email}' already exists") from None
        return Operator(operator_id, email, at)

    async def find(self, email: str) -> tuple[Operator, str] | None:
        query = select(
            operators.c.id, operators.c.email, operators.c.created_at, operators.c.password_hash
        ).where(operators.c.email == email)
        async with self._db.snapshot() as conn:
            row = (await conn.execute(query)).first()
        return (Operator(row.id, row.email, row.created_at), row.password_hash) if row else None

    async def list(self) -> list[Operator]:
        query = select(operators.c.id, operators.c.email, operators.c.created_at).order_by(
            operators.c.id
        )
        async with self._db.snapshot() as conn:
            return [Operator(*row) for row in await conn.execute(query)]

    async def set_password_hash(self, operator_id: int, password_hash: str) -> None:
        await self._db.write(
            lambda conn: conn.execute(
                update(operators)
                .where(operators.c.id == operator_id)
                .values(password_hash=password_hash)
            )
        )

    async def end_sessions(self, operator_id: int) -> None:
        await self._db.write(
            lambda conn: conn.execute(delete(sessions).where(sessions.c.operator_id == operator_id))
        )

    async def start_session(
        self,
        *,
        token_hash: str,
        operator: Operator,
        csrf_token: str,
        at: datetime,
        expires_at: datetime,
    ) -> OperatorSession:
        def start(conn: Connection) -> None:
            conn.execute(delete(sessions).where(sessions.c.expires_at < at))
            conn.execute(
                sessions.insert().values(
                    token_hash=token_hash,
                    operator_id=operator.id,
                    csrf_token=csrf_token,
                    created_at=at,
                    expires_at=expires_at,
                )
            )

        await self._db.write(start)
        return OperatorSession(operator, csrf_token, expires_at)

    async def session(self, token_hash: str, *, now: datetime) -> OperatorSession | None:
        query = (
            select(
                operators.c.id,
                operators.c.email,
                operators.c.created_at,
                sessions.c.csrf_token,
                sessions.c.expires_at,
            )
            .join(operators, operators.c.id == sessions.c.operator_id)
            .where(sessions.c.token_hash == token_hash, sessions.c.expires_at > now)
        )
        async with self._db.snapshot() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return OperatorSession(
            Operator(row.id, row.email, row.created_at), row.csrf_token, row.expires_at
        )

    async def end_session(self, token_hash: str) -> None:
        await self._db.write(
            lambda conn: conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash))
        )

    async def locked_until(self, email: str, client_ip: str) -> datetime | None:
        query = select(failures.c.locked_until).where(
            failures.c.email == email, failures.c.client_ip == client_ip
        )
        async with self._db.snapshot() as conn:
            locked: datetime | None = (await conn.execute(query)).scalar_one_or_none()
        return locked

    async def count_failure(
        self, email: str, client_ip: str, *, at: datetime, window_start: datetime
    ) -> int:
        # One statement, so concurrent failures are all counted: a stale window starts afresh.
        stale = failures.c.first_failed_at < window_start
        upsert = self._db.insert(failures).values(
            email=email, client_ip=client_ip, failures=1, first_failed_at=at, locked_until=None
        )
        statement = upsert.on_conflict_do_update(
            index_elements=[failures.c.email, failures.c.client_ip],
            set_={
                "failures": case((stale, 1), else_=failures.c.failures + 1),
                "first_failed_at": case(
                    (stale, literal(at, Timestamp())), else_=failures.c.first_failed_at
                ),
                "locked_until": case((stale, None), else_=failures.c.locked_until),
            },
        ).returning(failures.c.failures)
        count: int = await self._db.write(lambda conn: conn.execute(statement).scalar_one())
        return count

    async def lock(self, email: str, client_ip: str, *, until: datetime) -> None:
        await self._db.write(
            lambda conn: conn.execute(
                update(failures)
                .where(failures.c.email == email, failures.c.client_ip == client_ip)
                .values(locked_until=until)
            )
        )

    async def clear_failures(self, email: str, client_ip: str) -> None:
        await self._db.write(
            lambda conn: conn.execute(
                delete(failures).where(failures.c.email == email, failures.c.client_ip == client_ip)
            )
        )
