"""The shape of a v2 set request (§5): up to 25 group objects in `subscription_groups`.

Each object becomes a `GroupRequest`, the same value v1 builds from its body, so both versions are
checked and applied by one code path; only the reading of the body differs. This module checks the
request as a whole (how many objects, `emails` with `phones`); `plan()` checks each object.
"""

from __future__ import annotations

from typing import Any, Final

from subgroups.domain.subscriptions import EMAIL_AND_PHONE, GroupRequest
from subgroups.errors import InvalidRequest, ItemRejected

MAX_GROUPS: Final = 25
GROUPS_REQUIRED: Final = "subscription_groups is required"
GROUPS_NOT_A_LIST: Final = (
    f"subscription_groups must be a list of 1 to {MAX_GROUPS} subscription group objects"
)
TOO_MANY_GROUPS: Final = f"At most {MAX_GROUPS} subscription groups per request"
NOT_AN_OBJECT: Final = "a subscription group must be a JSON object"

# (name in v2, the v1 name accepted as an alias)
_IDENTIFIER_FIELDS: Final = (
    ("external_ids", "external_id"),
    ("emails", "email"),
    ("phones", "phone"),
)


def group_requests(value: object) -> list[GroupRequest]:
    """The objects of `subscription_groups`, in order; raises InvalidRequest for a bad request.

    An object that is not a JSON object is an ItemRejected, like any other object-level error.
    """
    if value is None:
        raise InvalidRequest(GROUPS_REQUIRED)
    if not isinstance(value, list) or not value:
        raise InvalidRequest(GROUPS_NOT_A_LIST)
    if len(value) > MAX_GROUPS:
        raise InvalidRequest(TOO_MANY_GROUPS)
    requests = []
    for position, item in enumerate(value):
        try:
            requests.append(_group_request(item))
        except InvalidRequest as error:
            raise ItemRejected(position, error) from None
    # Braze refuses emails and phones in one request even across objects; the error is the
    # request's, not one object's, so it carries no position.
    if any(r.email is not None for r in requests) and any(r.phone is not None for r in requests):
        raise InvalidRequest(EMAIL_AND_PHONE)
    return requests


def _group_request(item: object) -> GroupRequest:
    if not isinstance(item, dict):
        raise InvalidRequest(NOT_AN_OBJECT)
    (external_id, external_id_field), (email, email_field), (phone, phone_field) = (
        _identifier(item, plural, singular) for plural, singular in _IDENTIFIER_FIELDS
    )
    return GroupRequest(
        group_id=item.get("subscription_group_id"),
        state=item.get("subscription_state"),
        external_id=external_id,
        email=email,
        phone=phone,
        external_id_field=external_id_field,
        email_field=email_field,
        phone_field=phone_field,
    )


def _identifier(item: dict[str, Any], plural: str, singular: str) -> tuple[object, str]:
    """The value of one identifier field and the name it was sent under (null counts as absent)."""
    value, alias = item.get(plural), item.get(singular)
    if value is not None and alias is not None:
        raise InvalidRequest(f"{plural} and {singular} are the same field: send only one of them")
    if alias is not None:
        return alias, singular
    return value, plural
