"""An address's domain is checked once per domain (email-validator's own check, kept): the
answers, for valid and invalid addresses alike, are the library's."""

from __future__ import annotations

import importlib

import pytest
from email_validator import EmailNotValidError, validate_email

from subgroups.domain.identifiers import normalise_email
from subgroups.errors import InvalidRequest

ADDRESSES = (
    "person@example.com",
    "Person@EXAMPLE.com",
    "other@example.com",
    "a@münchen.de",
    "b@xn--mnchen-3ya.de",
    "c@ex_ample.com",
    "d@-example.com",
    "e@example..com",
    "f@" + "a" * 64 + ".com",
    "g@localhost",
    "h@[192.0.2.1]",
    "i@ab--cd.com",
    "person@example.com ",
    "no-at-sign",
)


def library_answer(address: str) -> str | None:
    """The library's own answer, the domain check taken afresh."""
    module = importlib.import_module("email_validator.validate_email")
    module.validate_email_domain_name.cache_clear()
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def our_answer(address: str) -> str | None:
    try:
        return normalise_email(address)
    except InvalidRequest:
        return None


@pytest.mark.parametrize("address", ADDRESSES)
def test_an_address_gets_the_librarys_answer_however_often_its_domain_was_seen(
    address: str,
) -> None:
    expected = library_answer(address)

    assert [our_answer(address) for _ in range(3)] == [expected] * 3


def test_the_domain_check_is_kept() -> None:
    module = importlib.import_module("email_validator.validate_email")
    module.validate_email_domain_name.cache_clear()
    for local in ("a", "b", "c"):
        normalise_email(f"{local}@kept.example.com")

    assert module.validate_email_domain_name.cache_info().hits >= 2
