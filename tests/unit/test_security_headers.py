from __future__ import annotations

from subgroups.web.security_headers import API_HEADERS, RawHeaders, SecurityHeaders


def test_api_responses_get_every_header() -> None:
    headers: RawHeaders = [(b"content-type", b"application/json")]

    SecurityHeaders().add_to("/subscription/status/set", headers)

    assert dict(headers) == {
        b"content-type": b"application/json",
        **{k.encode(): v.encode() for k, v in API_HEADERS.items()},
    }


def test_a_path_prefix_can_have_its_own_policy() -> None:
    pages = SecurityHeaders([("/dashboard", {"Content-Security-Policy": "default-src 'self'"})])
    page: RawHeaders = []
    nested: RawHeaders = []
    api: RawHeaders = []
    lookalike: RawHeaders = []

    pages.add_to("/dashboard", page)
    pages.add_to("/dashboard/groups", nested)
    pages.add_to("/subscription/status/set", api)
    pages.add_to("/dashboardx", lookalike)

    assert dict(page)[b"content-security-policy"] == b"default-src 'self'"
    assert dict(nested)[b"content-security-policy"] == b"default-src 'self'"
    assert dict(page)[b"x-frame-options"] == b"DENY"
    assert dict(api)[b"content-security-policy"].startswith(b"default-src 'none'")
    assert dict(lookalike)[b"content-security-policy"].startswith(b"default-src 'none'")


def test_a_header_the_response_sets_itself_wins() -> None:
    headers: RawHeaders = [(b"Cache-Control", b"max-age=60")]

    SecurityHeaders().add_to("/static/app.css", headers)

    assert [v for k, v in headers if k.lower() == b"cache-control"] == [b"max-age=60"]
