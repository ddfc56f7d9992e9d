"""Addresses of the everyday shape skip email_validator; the answer must not change."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from subgroups.domain.identifiers import _plain_email, normalise_email
from subgroups.errors import InvalidRequest

# Characters around the edges of the fast path's shape: letters of both cases, digits, the
# punctuation it allows and some it does not.
_ALPHABET = "aZz09_+-.@xn" + "!#'é"
_TAILS = [".com", ".co.uk", ".test", ".local", ".123", ".x", ".example", ".io", "-.com", ""]


def _validator(address: str) -> str | None:
    try:
        return validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


@settings(max_examples=1500, deadline=None)
@given(body=st.text(alphabet=_ALPHABET, min_size=1, max_size=40), tail=st.sampled_from(_TAILS))
def test_the_fast_path_agrees_with_email_validator(body: str, tail: str) -> None:
    address = body + tail
    fast = _plain_email(address)
    if fast is not None:
        assert fast == _validator(address)


@pytest.mark.parametrize(
    "address",
    [
        "Person.Name+tag@Example.COM",
        "a@b.io",
        "x@sub-domain.example.co",
        "_@x.io",
        "postmaster@x.com",
        "a" * 64 + "@x.com",
        "x@" + "a" * 63 + ".com",
    ],
)
def test_everyday_addresses_take_the_fast_path(address: str) -> None:
    assert _plain_email(address) == _validator(address)


@pytest.mark.parametrize(
    "address",
    [
        "x@y.test",
        "x@localhost",
        "x@a--b.com",
        "x@xn--abc.com",
        "a..b@x.com",
        "x@a.123",
        "a" * 65 + "@x.com",
        "x@" + "a" * 64 + ".com",
        "é@x.com",
        '"quoted"@x.com',
    ],
)
def test_unusual_addresses_go_through_the_validator(address: str) -> None:
    assert _plain_email(address) is None


@pytest.mark.parametrize("address", ["x@-a.com", "x@y.test", "a..b@x.com"])
def test_invalid_addresses_are_still_refused(address: str) -> None:
    with pytest.raises(InvalidRequest):
        normalise_email(address)
