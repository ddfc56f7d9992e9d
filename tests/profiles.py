"""Profiles written straight to the database, for what the API never creates: a profile with no state.

The set endpoints always give a profile a state, but profiles also arrive without one (for example
from an import), and the read endpoints must list them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from subgroups.container import Services
from subgroups.storage.tables import profiles


async def insert_profile(
    services: Services,
    workspace_id: int,
    *,
    external_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> int:
    """A new profile with no subscription state; returns its id."""
    row = {
        "workspace_id": workspace_id,
        "external_id": external_id,
        "email": email,
        "phone": phone,
        "created_at": datetime.now(UTC),
    }
    insert = profiles.insert().values(row).returning(profiles.c.id)
    profile_id: int = await services.db.write(lambda conn: conn.execute(insert).scalar_one())
    return profile_id
