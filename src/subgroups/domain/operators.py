"""Dashboard users ("operators") and their sign-in sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Operator:
    """A person who signs in to the dashboard. Operators may work in every workspace."""

    id: int
    email: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OperatorSession:
    """A signed-in browser. `csrf_token` must come back with every form it posts."""

    operator: Operator
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session as created: `token` goes into the cookie and is stored only as a hash."""

    session: OperatorSession
    token: str
