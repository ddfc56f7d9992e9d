"""Parsing and normalising the three ways to name a person: external id, email and phone (§3).

Each parser takes the raw JSON value of one field (a string, a list of strings, or None for absent) and
returns the distinct normalised values in the order first seen, or raises InvalidRequest with the
contract's message.
"""

from __future__ import annotations

import importlib
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
# Numbers normalised lately: an import names a person once per group, and a client sends the
# same few numbers again and again.
_RECENT: Final = 16_384


def _keep_domain_checks() -> None:
    """email-validator checks an address's domain with a function of the domain alone, and that
    is most of the cost of an address (about 13 of 20 µs); an import's addresses share a few
    domains. The library's own check is kept per domain, so the library still decides every
    address and gives the same answer, at a third of the cost. A release that no longer checks
    domains this way is left as it is."""
    module = importlib.import_module("email_validator.validate_email")
    check = getattr(module, "validate_email_domain_name", None)
    if check is not None and not hasattr(check, "cache_info"):
        setattr(module, "validate_email_domain_name", lru_cache(maxsize=1024)(check))  # noqa: B010


_keep_domain_checks()


def _quoted(value: str, limit: int = 80) -> str:
    """The value as shown inside an error message: quoted, and cut if it is very long."""
    shown = value if len(value) <= limit else value[:limit] + "…"
    return f"'{shown}'"


def raw_values(value: object, field: str) -> list[str] | None:
    """The strings of one identifier field, or None when the field is absent (or null)."""
    if value is None:
        return None
    if isinstance(value, str) and value:
        return [value]
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
    if len(values) == 1:  # one cell of an import, or a request naming one person
        return [normalise(values[0])]
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
    # Remembered by the compact form, never by the string sent, and only when short: padding a
    # number with spaces or dashes must not let a client fill memory with long keys.
    checked = _recent_phone(compact) if len(compact) <= _PHONE_KEY else _e164(compact)
    if checked is None:
        raise _invalid_phone(value)
    return checked


_PHONE_KEY: Final = 32


@lru_cache(maxsize=_RECENT)
def _recent_phone(compact: str) -> str | None:
    return _e164(compact)


def _e164(compact: str) -> str | None:
    """The E.164 form of a number without its formatting; None when it is not a valid one."""
    if (
        len(compact) < 2
        or compact[0] != "+"
        or not compact[1:].isascii()
        or not compact[1:].isdigit()
    ):
        return None
    try:
        number = phonenumbers.parse(compact, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
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
