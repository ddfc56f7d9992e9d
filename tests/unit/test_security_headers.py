from __future__ import annotations

from subgroups.web.security_headers import API_HEADERS, RawHeaders, SecurityHeaders


def test_api_responses_get_every_header() -> None:
    headers: RawHeaders = [(b"content-type", b"application/json")]

    SecurityHeaders().add_to("/subscription/status/set", headers)

    assert dict(headers) == {
        b"content-type": b"application/json",
        **{k.encode(): v.encode() for k, v in API_HEADERS.items()},
    }


def test_every_path_gets_the_same_headers() -> None:
    headers = SecurityHeaders()

    assert headers.for_path("/dashboard/groups") == headers.for_path("/subscription/status/set")


def test_a_header_the_response_sets_itself_wins() -> None:
    headers: RawHeaders = [(b"Cache-Control", b"max-age=60")]

    SecurityHeaders().add_to("/static/app.css", headers)

    assert [v for k, v in headers if k.lower() == b"cache-control"] == [b"max-age=60"]
