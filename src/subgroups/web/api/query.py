"""Reading identifiers from a query string in every form Braze clients send (§6)."""

from __future__ import annotations

from starlette.datastructures import QueryParams

from subgroups.domain.reads import Identifiers
from subgroups.errors import InvalidRequest


def values(params: QueryParams, name: str) -> list[str] | None:
    """`name=a`, repeated `name=a&name=b`, and Rails-style `name[]=a`; None when absent.

    A single value is taken whole: commas do not split it.
    """
    found = [*params.getlist(name), *params.getlist(f"{name}[]")]
    return found or None


def phones(params: QueryParams) -> list[str] | None:
    found = values(params, "phone")
    if found is None:
        return None
    # The Braze docs' examples put a bare `+` in the query (`phone=+1…`), which form decoding turns
    # into a space. A phone cannot start with a space, so one there was a `+`.
    return [f"+{value[1:]}" if value.startswith(" ") else value for value in found]


def single(params: QueryParams, name: str) -> str | None:
    """A parameter that may appear at most once; None when absent."""
    found = params.getlist(name)
    if len(found) > 1:
        raise InvalidRequest(f"{name} must be given once")
    return found[0] if found else None


def identifiers(params: QueryParams) -> Identifiers:
    return Identifiers(
        external_id=values(params, "external_id"),
        email=values(params, "email"),
        phone=phones(params),
    )
