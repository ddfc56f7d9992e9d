"""What the SQLite and PostgreSQL write paths share: row shapes and the wording of notes."""

from __future__ import annotations

from subgroups.domain.models import Channel

# id, external_id, email, phone
ProfileRow = tuple[int, str | None, str | None, str | None]


def channel_field(channel: Channel) -> str:
    return "email" if channel == "email" else "phone"


def archived_message(group_id: str) -> str:
    return f"Subscription group '{group_id}' is archived and cannot be changed"


def ignored_contacts_note(channel: Channel) -> str:
    field = channel_field(channel)
    return (
        f"{field} was ignored: it is recorded only when exactly one external_id and one"
        f" {field} are sent"
    )


def contact_notes(
    channel: Channel, external_id: str | None, current: str | None, sent: str
) -> list[str]:
    """The note for a profile that already has a different email (phone) than the one sent."""
    if current is None or current == sent:
        return []
    field = channel_field(channel)
    return [
        f"external_id '{external_id}' already has a different {field}; '{sent}' was not recorded"
    ]


def old_state_name(subscribed: object) -> str | None:
    """A stored `subscribed` value (bool, or 0/1 on SQLite; None when unknown) as a state name."""
    if subscribed is None:
        return None
    return "subscribed" if subscribed else "unsubscribed"
