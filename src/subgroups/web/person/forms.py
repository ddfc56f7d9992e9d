"""Reading what a person's browser or mail client posts, bounded like every body (`web/body.py`).

RFC 8058 lets a mail client send its one-click POST form-encoded or as multipart/form-data; both
are read here, with the standard library's MIME parser for the second.
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP
from typing import Final
from urllib.parse import parse_qsl

from starlette.requests import Request

from subgroups.web.body import read_body
from subgroups.web.errors import HttpError
from subgroups.web.state import services_of

MAX_FORM_BYTES: Final = 16 * 1024
MAX_FORM_FIELDS: Final = 200
UNREADABLE: Final = "This form could not be read."

Pairs = list[tuple[str, str]]


async def read_pairs(request: Request) -> Pairs:
    """The posted fields in order (a name may repeat: one per checked box)."""
    body = await read_body(
        request,
        max_bytes=MAX_FORM_BYTES,
        time_limit=services_of(request).settings.body_timeout_seconds,
        too_large="This form is too large.",
    )
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media == "multipart/form-data":
        return _multipart(request.headers["content-type"], body)
    try:
        return parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise HttpError(400, UNREADABLE) from None


def _multipart(content_type: str, body: bytes) -> Pairs:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise HttpError(400, UNREADABLE)
    pairs: Pairs = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        try:
            pairs.append((name, payload.decode()))
        except UnicodeDecodeError:
            raise HttpError(400, UNREADABLE) from None
        if len(pairs) > MAX_FORM_FIELDS:
            raise HttpError(400, UNREADABLE)
    return pairs


def is_one_click(pairs: Pairs) -> bool:
    """RFC 8058 §3.1: the POST carries `List-Unsubscribe=One-Click`."""
    return ("List-Unsubscribe", "One-Click") in pairs


def field(pairs: Pairs, name: str) -> str:
    return next((value for key, value in pairs if key == name), "")


def every(pairs: Pairs, name: str) -> set[str]:
    return {value for key, value in pairs if key == name}
