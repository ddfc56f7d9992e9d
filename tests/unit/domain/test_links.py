"""Signed link tokens (contract §11): compact, URL-safe, unforgeable, bound to what they name."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from subgroups.domain.links import (
    MAX_TOKEN_CHARS,
    Claim,
    LinkKind,
    form_token,
    form_token_matches,
    read_claim,
    sign,
    verifies,
)

SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(1, 33))
URL_SAFE = set(string.ascii_letters + string.digits + "-_")


def unsubscribe(workspace: int = 1, profile: int = 7, group: int = 3, secret_id: int = 1) -> Claim:
    return Claim(LinkKind.UNSUBSCRIBE, workspace, secret_id, profile, group)


def test_a_token_reads_back_as_its_claim_and_verifies_with_its_secret() -> None:
    claim = unsubscribe()
    token = sign(claim, SECRET)

    assert read_claim(token, LinkKind.UNSUBSCRIBE) == claim
    assert verifies(token, claim, SECRET)
    assert not verifies(token, claim, OTHER_SECRET)


def test_tokens_are_compact_and_url_safe() -> None:
    token = sign(unsubscribe(2**32 - 1, 2**63 - 1, 2**32 - 1, 2**32 - 1), SECRET)
    preferences = sign(Claim(LinkKind.PREFERENCES, 1, 1, 7), SECRET)

    assert set(token) <= URL_SAFE
    assert set(preferences) <= URL_SAFE
    assert len(token) <= MAX_TOKEN_CHARS
    assert len(preferences) < len(token)


def test_a_token_of_one_kind_is_not_a_token_of_the_other() -> None:
    token = sign(unsubscribe(), SECRET)
    preferences = sign(Claim(LinkKind.PREFERENCES, 1, 1, 7), SECRET)

    assert read_claim(token, LinkKind.PREFERENCES) is None
    assert read_claim(preferences, LinkKind.UNSUBSCRIBE) is None


def test_every_one_character_change_is_refused() -> None:
    claim = unsubscribe()
    token = sign(claim, SECRET)
    alphabet = sorted(URL_SAFE)
    for i, char in enumerate(token):
        for other in (alphabet[(alphabet.index(char) + 1) % len(alphabet)], "="):
            altered = token[:i] + other + token[i + 1 :]
            found = read_claim(altered, LinkKind.UNSUBSCRIBE)
            assert found is None or not verifies(altered, found, SECRET), (i, other)


def test_garbage_is_no_claim() -> None:
    for junk in ("", "a", "!" * 40, "é" * 40, "A" * 500, sign(unsubscribe(), SECRET) + "A"):
        assert read_claim(junk, LinkKind.UNSUBSCRIBE) is None


ids = st.integers(min_value=1, max_value=2**31)


@given(
    a=st.tuples(ids, ids, ids),
    b=st.tuples(ids, ids, ids),
    secret=st.binary(min_size=32, max_size=32),
)
def test_no_token_for_one_workspace_profile_and_group_verifies_for_another(
    a: tuple[int, int, int], b: tuple[int, int, int], secret: bytes
) -> None:
    token = sign(unsubscribe(*a), secret)
    forged = unsubscribe(*b)

    assert verifies(token, forged, secret) == (a == b)
    if a != b:
        # Nor does any token whose claim was rewritten to name `b` keep its tag.
        rewritten = sign(forged, secret)[: -len(token) // 2] + token[-len(token) // 2 :]
        assert not verifies(rewritten, forged, secret)


@given(secret=st.binary(min_size=32, max_size=32), other=st.binary(min_size=32, max_size=32))
def test_a_token_signed_with_another_secret_never_verifies(secret: bytes, other: bytes) -> None:
    claim = unsubscribe()

    assert verifies(sign(claim, other), claim, secret) == (secret == other)


def test_the_form_token_is_bound_to_its_link_and_secret() -> None:
    token = sign(Claim(LinkKind.PREFERENCES, 1, 1, 7), SECRET)
    other = sign(Claim(LinkKind.PREFERENCES, 1, 1, 8), SECRET)
    sent = form_token(token, SECRET)

    assert form_token_matches(sent, token, SECRET)
    assert not form_token_matches(sent, other, SECRET)
    assert not form_token_matches(sent, token, OTHER_SECRET)
    assert not form_token_matches("", token, SECRET)
