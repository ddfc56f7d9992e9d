"""Parsing and normalising identifiers (contract §3): properties over generated input, plus the
examples the contract names."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from subgroups.domain.identifiers import (
    EMAIL_CACHE_SIZE,
    MAX_IDS,
    checked_email,
    normalise_email,
    normalise_external_id,
    normalise_phone,
    parse_emails,
    parse_external_ids,
    parse_phones,
)
from subgroups.errors import InvalidRequest

TOO_MANY_EXTERNAL_IDS = "The max number of external_ids and aliases per request was exceeded"
TOO_MANY_IDS = "The max number of ids per request was exceeded"
FORMATTING = " -.()"
FULLWIDTH_DIGITS = {ord(d): ord(d) + 0xFEE0 for d in "0123456789"}

Parser = Callable[[object, str], list[str] | None]
PARSERS: dict[str, Parser] = {
    "external_id": parse_external_ids,
    "email": parse_emails,
    "phone": parse_phones,
}

# Property tests must never fail for being slow on a busy machine.
properties = settings(deadline=None, max_examples=100)


def _example_numbers() -> list[str]:
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                numbers.append(
                    phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                )
    return sorted(set(numbers))


# Real numbers of every region libphonenumber knows, in E.164; and the seeds' own example.
E164_NUMBERS = [*_example_numbers(), "+12223334444", "+14155552671"]
e164 = st.sampled_from(E164_NUMBERS)


@st.composite
def formatted(draw: st.DrawFn, number: str) -> str:
    """`number` with formatting characters sprinkled anywhere."""
    pieces = []
    for char in number:
        pieces.append(draw(st.text(alphabet=FORMATTING, max_size=2)))
        pieces.append(char)
    pieces.append(draw(st.text(alphabet=FORMATTING, max_size=2)))
    return "".join(pieces)


def formatted_e164() -> st.SearchStrategy[tuple[str, str]]:
    return e164.flatmap(lambda n: formatted(n).map(lambda f: (n, f)))


def attempt(call: Callable[[], str]) -> tuple[str | None, str | None]:
    """(the result, None) or (None, the rejection's message)."""
    try:
        return call(), None
    except InvalidRequest as error:
        return None, error.message


def message_of(call: Callable[[], object]) -> str:
    with pytest.raises(InvalidRequest) as caught:
        call()
    return caught.value.message


# --- phones -----------------------------------------------------------------------------------


@properties
@given(e164)
def test_valid_e164_numbers_round_trip(number: str) -> None:
    assert normalise_phone(number) == number


@properties
@given(formatted_e164())
def test_formatting_characters_are_ignored(case: tuple[str, str]) -> None:
    number, spelled = case
    assert normalise_phone(spelled) == number


@properties
@given(st.one_of(st.text(alphabet="+0123456789" + FORMATTING, max_size=24), st.text(max_size=24)))
def test_phone_normalisation_is_idempotent_and_yields_e164(value: str) -> None:
    normalised, rejected = attempt(lambda: normalise_phone(value))
    if normalised is None:
        assert rejected is not None
        assert rejected.startswith("Invalid phone number: '")
        return
    assert normalise_phone(normalised) == normalised
    assert normalised.startswith("+")
    assert normalised[1:].isascii()
    assert normalised[1:].isdigit()
    assert 2 <= len(normalised) <= 16


@properties
@given(formatted_e164())
def test_a_number_without_its_leading_plus_is_rejected(case: tuple[str, str]) -> None:
    _, spelled = case
    without_plus = spelled.replace("+", "", 1)

    message = message_of(lambda: normalise_phone(without_plus))

    assert message == (
        f"Invalid phone number: '{without_plus}' (use E.164, for example +14155552671)"
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "+",
        "+1",
        "++12223334444",
        "+1 222 333 4444 x12",
        "+1\u00a0222 333 4444",
        "+" + "12223334444".translate(FULLWIDTH_DIGITS),
    ],
)
def test_phone_values_that_are_not_e164_are_rejected(value: str) -> None:
    with pytest.raises(InvalidRequest):
        normalise_phone(value)


def test_a_very_long_value_is_cut_in_the_message() -> None:
    value = "+" + "9" * 500

    message = message_of(lambda: normalise_phone(value))

    assert message.startswith("Invalid phone number: '+999")
    assert len(message) < 200


# --- emails -----------------------------------------------------------------------------------

_LOCAL = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_+-]{0,12}[A-Za-z0-9])?", fullmatch=True)
# Hyphens in a label's third and fourth places are reserved for encodings such as "xn--" (RFC 5891,
# 4.2.3.1), and email-validator refuses them: such a label is not a valid address to start from.
_LABEL = st.from_regex(r"[A-Za-z]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True).filter(
    lambda label: label[2:4] != "--"
)
ascii_emails = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join(labels)}.{tld}",
    _LOCAL,
    st.lists(_LABEL, min_size=1, max_size=3),
    st.sampled_from(["com", "org", "net", "io", "de", "COM"]),
)
whitespace = st.text(alphabet=" \t\r\n", max_size=3)


@properties
@given(ascii_emails, whitespace, whitespace)
def test_emails_are_trimmed_and_lowercased(address: str, before: str, after: str) -> None:
    assert normalise_email(before + address + after) == address.lower()
    assert normalise_email(address.upper()) == address.lower()


@properties
@given(st.one_of(st.emails(), ascii_emails, st.text(max_size=40)))
def test_email_normalisation_is_idempotent(value: str) -> None:
    normalised, rejected = attempt(lambda: normalise_email(value))
    if normalised is None:
        assert rejected is not None
        assert rejected.startswith("Invalid email address: '")
        return
    assert normalise_email(normalised) == normalised
    assert normalised == normalised.lower() == normalised.strip()


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "plain",
        "@example.com",
        "a@",
        "a@b",
        "a b@example.com",
        "a@@example.com",
        "a@-x.com",
    ],
)
def test_invalid_emails_are_rejected_and_named(value: str) -> None:
    assert message_of(lambda: normalise_email(value)) == f"Invalid email address: '{value}'"


@properties
@given(st.one_of(st.emails(), ascii_emails, st.text(max_size=40)), whitespace)
def test_remembered_emails_get_the_validators_answer(value: str, padding: str) -> None:
    try:
        expected: str | None = validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        expected = None
    for sent in (value, value, padding + value + padding):  # the later ones may be remembered
        normalised, rejected = attempt(lambda: normalise_email(sent))  # noqa: B023  # called at once
        assert normalised == (expected.lower() if expected is not None else None)
        assert rejected == (None if expected is not None else f"Invalid email address: '{sent}'")


def test_remembered_emails_are_bounded() -> None:
    for n in range(EMAIL_CACHE_SIZE + 10):
        normalise_email(f"user{n}@example.com")
    with pytest.raises(InvalidRequest):
        normalise_email("not an address")
    assert checked_email.cache_info().currsize == EMAIL_CACHE_SIZE


def test_unicode_emails_are_compared_in_one_normal_form() -> None:
    composed = unicodedata.normalize("NFC", "josé@example.com")
    decomposed = unicodedata.normalize("NFD", "JOSÉ@example.com")
    assert composed != decomposed.lower()

    assert normalise_email(composed) == normalise_email(decomposed)


# --- external ids -----------------------------------------------------------------------------


@properties
@given(st.text(min_size=1, max_size=512).filter(lambda s: "\x00" not in s))
def test_external_ids_are_taken_as_given(value: str) -> None:
    assert normalise_external_id(value) == value


@pytest.mark.parametrize("value", ["x" * 513, "a\x00b"])
def test_external_ids_that_are_too_long_or_hold_nul_are_rejected(value: str) -> None:
    assert message_of(lambda: normalise_external_id(value)).startswith("Invalid external_id: '")


def test_external_ids_are_case_and_space_sensitive() -> None:
    assert parse_external_ids(["User", "user", " user", "user "]) == [
        "User",
        "user",
        " user",
        "user ",
    ]


# --- fields: shapes, duplicates, limits -------------------------------------------------------


def _holds_a_bad_item(items: Sequence[object]) -> bool:
    return any(item != "a@example.com" for item in items)


not_identifier_values = st.one_of(
    st.just(""),
    st.just([]),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    st.lists(
        st.one_of(st.just("a@example.com"), st.just(""), st.integers(), st.none(), st.just([])),
        min_size=1,
        max_size=4,
    ).filter(_holds_a_bad_item),
)


@properties
@given(
    st.sampled_from(sorted(PARSERS)),
    st.sampled_from(["external_id", "email", "phone", "external_ids", "emails", "phones"]),
    not_identifier_values,
)
def test_empty_or_non_string_values_are_rejected_naming_the_field(
    kind: str, field: str, value: object
) -> None:
    message = message_of(lambda: PARSERS[kind](value, field))

    assert message.startswith(f"{field} ")


@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_an_absent_field_is_none(kind: str) -> None:
    assert PARSERS[kind](None, kind) is None


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("external_id", "u1", ["u1"]),
        ("email", " A@Example.com ", ["a@example.com"]),
        ("phone", "+1 (222) 333-4444", ["+12223334444"]),
    ],
)
def test_a_single_string_is_a_list_of_one(kind: str, value: str, expected: list[str]) -> None:
    assert PARSERS[kind](value, kind) == expected


@properties
@given(st.lists(st.sampled_from([f"user-{n}" for n in range(70)]), min_size=1, max_size=120))
def test_external_id_lists_dedupe_in_first_seen_order(values: list[str]) -> None:
    distinct = list(dict.fromkeys(values))
    if len(distinct) > MAX_IDS:
        assert message_of(lambda: parse_external_ids(values)) == TOO_MANY_EXTERNAL_IDS
    else:
        assert parse_external_ids(values) == distinct


@st.composite
def respelled_phones(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """Up to 50 distinct numbers, each sent one or more times in any spelling, shuffled."""
    numbers = draw(st.lists(e164, min_size=1, max_size=MAX_IDS, unique=True))
    sent = []
    for number in numbers:
        sent.append(number)
        sent += draw(st.lists(formatted(number), max_size=2))
    return numbers, draw(st.permutations(sent))


@settings(deadline=None, max_examples=60)
@given(respelled_phones())
def test_phone_lists_dedupe_after_normalisation(case: tuple[list[str], list[str]]) -> None:
    numbers, sent = case

    parsed = parse_phones(sent)

    assert parsed is not None
    assert sorted(parsed) == sorted(numbers)
    assert parsed == list(dict.fromkeys(normalise_phone(v) for v in sent))


@st.composite
def respelled_emails(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    addresses = draw(
        st.lists(ascii_emails, min_size=1, max_size=MAX_IDS, unique_by=lambda a: a.lower())
    )
    sent = []
    for address in addresses:
        sent.append(address)
        sent += draw(st.lists(spellings_of(address), max_size=2))
    return [a.lower() for a in addresses], draw(st.permutations(sent))


def spellings_of(address: str) -> st.SearchStrategy[str]:
    """`address` padded with whitespace, in its own case or upper case."""
    return st.builds(
        lambda pad, upper: pad + (address.upper() if upper else address) + pad,
        whitespace,
        st.booleans(),
    )


# Validating an address is slow enough that fewer examples keep this test quick.
@settings(deadline=None, max_examples=40)
@given(respelled_emails())
def test_email_lists_dedupe_after_normalisation(case: tuple[list[str], list[str]]) -> None:
    addresses, sent = case

    parsed = parse_emails(sent)

    assert parsed is not None
    assert sorted(parsed) == sorted(addresses)


def _fifty(kind: str) -> list[str]:
    if kind == "external_id":
        return [f"user-{n}" for n in range(50)]
    if kind == "email":
        return [f"person{n}@example.com" for n in range(50)]
    return [f"+1415555{n:04d}" for n in range(50)]


def _one_more(kind: str) -> str:
    return {"external_id": "user-x", "email": "extra@example.com", "phone": "+14155559999"}[kind]


@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_fifty_distinct_values_are_the_most_a_field_takes(kind: str) -> None:
    values = _fifty(kind)
    expected = TOO_MANY_EXTERNAL_IDS if kind == "external_id" else TOO_MANY_IDS

    assert PARSERS[kind](values, kind) == values
    assert message_of(lambda: PARSERS[kind]([*values, _one_more(kind)], kind)) == expected


@pytest.mark.parametrize(
    ("kind", "variant"),
    [
        # A UK number written with its national trunk prefix is the same number.
        ("phone", ("+442079460958", "+44 (0)20 7946 0958")),
        # The same address, its accent composed in one spelling and decomposed in the other.
        ("email", ("josé@example.com", unicodedata.normalize("NFD", "josé@example.com"))),
    ],
)
def test_the_limit_counts_values_after_normalisation(kind: str, variant: tuple[str, str]) -> None:
    """49 plain values and one value spelled two ways are 50 distinct values, not 51."""
    values = _fifty(kind)[:49] + list(variant)
    assert len(set(values)) == 51

    parsed = PARSERS[kind](values, kind)

    assert parsed is not None
    assert len(parsed) == 50


def test_too_many_values_is_reported_before_an_invalid_one() -> None:
    values = [*_fifty("email"), "not-an-email"]

    assert message_of(lambda: parse_emails(values)) == TOO_MANY_IDS
