"""Reading a query string as Braze clients send it (§6): identifiers in every form, and paging."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import parse_qsl

from starlette.datastructures import QueryParams
from starlette.requests import Request

from subgroups.domain.reads import MAX_OFFSET, Identifiers
from subgroups.errors import InvalidRequest

_DIGITS: Final = re.compile(r"[0-9]+")
NOT_UTF8: Final = "Query string must be valid UTF-8"


def query_params(request: Request) -> QueryParams:
    """The request's query parameters, refusing (400) a query that is not UTF-8 once decoded, as an
    invalid body is refused: Starlette's own `request.query_params` turns such bytes into U+FFFD,
    which would then be looked up as an identifier no one sent.
    """
    raw: bytes = request.scope["query_string"]
    try:
        # Both the bytes as sent (the server's parser refuses non-ASCII ones, but another server
        # may pass them on) and what each %XX escape stands for.
        pairs = parse_qsl(raw.decode(), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise InvalidRequest(NOT_UTF8) from None
    return QueryParams(pairs)


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


def whole_number(text: str | None) -> int | None:
    """A parameter's text as the number the service bounds (paging); None when absent.

    Text that is not plain ASCII digits reads as -1, which no bound accepts: the service refuses it
    with the parameter's own message, in its turn (after the identifiers). Digits too many to be
    within any bound are not converted, only read as a number beyond them all.
    """
    if text is None:
        return None
    if not _DIGITS.fullmatch(text):
        return -1
    digits = text.lstrip("0")
    return int(digits or "0") if len(digits) <= 19 else MAX_OFFSET + 1


def identifiers(params: QueryParams) -> Identifiers:
    return Identifiers(
        external_id=values(params, "external_id"),
        email=values(params, "email"),
        phone=phones(params),
    )
