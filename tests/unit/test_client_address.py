"""Who the client is, behind zero or more trusted proxies (api/client.py)."""

from __future__ import annotations

import ipaddress

import pytest

from subgroups.web.client import forwarded_client, parse_address

TRUSTED = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:ffff::/48"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("198.51.100.1", ["203.0.113.9"], "198.51.100.1"),  # untrusted peer: header ignored
        ("10.0.0.1", [], "10.0.0.1"),  # trusted peer, no header: the peer
        ("10.0.0.1", ["203.0.113.9"], "203.0.113.9"),
        ("10.0.0.1", ["1.1.1.1, 203.0.113.9"], "203.0.113.9"),  # left of the client: forgeable
        ("10.0.0.1", ["203.0.113.9, 10.2.2.2"], "203.0.113.9"),  # through two proxies
        ("10.0.0.1", ["203.0.113.9", "10.2.2.2"], "203.0.113.9"),  # as separate header lines
        ("10.0.0.1", ["10.3.3.3, 10.2.2.2"], "10.3.3.3"),  # all hops trusted: the first
        ("10.0.0.1", [" 203.0.113.9:4711 "], "203.0.113.9"),  # with a port
        ("10.0.0.1", ["[2001:db8::1]:443"], "2001:db8::1"),
        ("10.0.0.1", ["::ffff:203.0.113.9"], "203.0.113.9"),
        ("2001:db8:ffff::1", ["2001:db8::7"], "2001:db8::7"),
        ("10.0.0.1", ["garbage"], None),
        ("10.0.0.1", ["203.0.113.9, "], None),  # an empty right-most hop
        ("10.0.0.1", ["garbage, 203.0.113.9"], "203.0.113.9"),  # garbage left of the client
        (None, ["203.0.113.9"], None),
    ],
)
def test_the_client_is_the_right_most_untrusted_hop(
    peer: str | None, forwarded: list[str], client: str | None
) -> None:
    assert forwarded_client(peer, forwarded, TRUSTED) == client


@pytest.mark.parametrize("text", ["", "1.2.3", "999.1.1.1", "[::1", "a:b:c", "example.com"])
def test_what_is_not_an_address_parses_to_none(text: str) -> None:
    assert parse_address(text) is None
