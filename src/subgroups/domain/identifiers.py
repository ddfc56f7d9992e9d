"""Parsing and normalising the three ways to name a person: external id, email and phone (§3).

Each parser takes the raw JSON value of one field (a string, a list of strings, or None for absent) and
returns the distinct normalised values in the order first seen, or raises InvalidRequest with the
contract's message.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Final

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from subgroups.errors import InvalidRequest

MAX_IDS: Final = 50
MAX_EXTERNAL_ID_LENGTH: Final = 512
# A list this long is refused before any value is looked at, so a 1 MiB body of addresses cannot buy
# seconds of parsing. Well above MAX_IDS: it only matters to callers that are not real clients.
MAX_RAW_ENTRIES: Final = 1000

TOO_MANY_EXTERNAL_IDS: Final = "The max number of external_ids and aliases per request was exceeded"
TOO_MANY_IDS: Final = "The max number of ids per request was exceeded"
# Addresses whose normalised form is remembered, most recently used first. email-validator's
# Unicode checks are the largest single cost of a one-email set (BENCHMARKS.md), and the same
# addresses come back (a person changing their mind, a retried request, an import run twice);
# the answer for a string never changes, so a hit gives exactly what the validator would. Only
# valid addresses are kept (at most 254 characters each): under 10 MB even if all were long and
# non-ASCII.
EMAIL_CACHE_SIZE: Final = 4096

_PHONE_FORMATTING = str.maketrans("", "", " -.()")


def _quoted(value: str, limit: int = 80) -> str:
    """The value as shown inside an error message: quoted, and cut if it is very long."""
    shown = value if len(value) <= limit else value[:limit] + "…"
    return f"'{shown}'"


def raw_values(value: object, field: str) -> list[str] | None:
    """The strings of one identifier field, or None when the field is absent (or null)."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) and item for item in items):
        raise InvalidRequest(f"{field} must be a non-empty string or a list of non-empty strings")
    return items  # type: ignore[return-value]  # every item was checked to be a str just above


def _distinct(
    values: list[str],
    normalise: Callable[[str], str],
    cheap_key: Callable[[str], str],
    overflow: str,
) -> list[str]:
    if len(values) > MAX_RAW_ENTRIES:
        raise InvalidRequest(overflow)
    if len({cheap_key(v) for v in values}) <= MAX_IDS:
        return list(dict.fromkeys(normalise(v) for v in values))
    # More spellings than the limit can still be few enough values: normalisation also folds a
    # trunk prefix ("+44 (0)20…") or another Unicode form of an address, which the cheap key misses.
    # That many values fail on the count, even when one of them is also invalid.
    try:
        distinct = list(dict.fromkeys(normalise(v) for v in values))
    except InvalidRequest:
        raise InvalidRequest(overflow) from None
    if len(distinct) > MAX_IDS:
        raise InvalidRequest(overflow)
    return distinct


def normalise_external_id(value: str) -> str:
    if len(value) > MAX_EXTERNAL_ID_LENGTH or "\x00" in value:
        raise InvalidRequest(
            f"Invalid external_id: {_quoted(value)} (at most {MAX_EXTERNAL_ID_LENGTH} characters,"
            " no NUL characters)"
        )
    return value


def normalise_email(value: str) -> str:
    try:
        return checked_email(value.strip())
    except EmailNotValidError:
        raise InvalidRequest(f"Invalid email address: {_quoted(value)}") from None


@lru_cache(maxsize=EMAIL_CACHE_SIZE)
def checked_email(trimmed: str) -> str:
    """The normalised form; raises EmailNotValidError, which the cache does not keep. Keyed by
    the trimmed value, so no entry is longer than a valid address."""
    checked = validate_email(trimmed, check_deliverability=False)
    return checked.normalized.lower()


def normalise_phone(value: str) -> str:
    compact = value.translate(_PHONE_FORMATTING)
    if (
        len(compact) < 2
        or compact[0] != "+"
        or not compact[1:].isascii()
        or not compact[1:].isdigit()
    ):
        raise _invalid_phone(value)
    try:
        number = phonenumbers.parse(compact, None)
    except phonenumbers.NumberParseException:
        raise _invalid_phone(value) from None
    if not phonenumbers.is_possible_number(number):
        raise _invalid_phone(value)
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalise(kind: str, value: str) -> str:
    """One identifier of kind `external_id`, `email` or `phone`, normalised (§3)."""
    if kind == "email":
        return normalise_email(value)
    return normalise_phone(value) if kind == "phone" else normalise_external_id(value)


def _invalid_phone(value: str) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid phone number: {_quoted(value)} (use E.164, for example +14155552671)"
    )


def parse_external_ids(value: object, field: str = "external_id") -> list[str] | None:
    values = raw_values(value, field)
    if values is None:
        return None
    return _distinct(values, normalise_external_id, lambda v: v, TOO_MANY_EXTERNAL_IDS)


def parse_emails(value: object, field: str = "email") -> list[str] | None:
    values = raw_values(value, field)
    if values is None:
        return None
    return _distinct(values, normalise_email, lambda v: v.strip().lower(), TOO_MANY_IDS)


def parse_phones(value: object, field: str = "phone") -> list[str] | None:
    values = raw_values(value, field)
    if values is None:
        return None
    return _distinct(
        values, normalise_phone, lambda v: v.translate(_PHONE_FORMATTING), TOO_MANY_IDS
    )
