"""Reading a form that carries one file (multipart/form-data), bounded in size and in time.

Only a signed-in operator's request gets this far (see `web.signed_in_upload`), so the time an
upload may take grows with its size: a large file on a slow link is still accepted, while the
size stays bounded. The file is spooled to a temporary file as it arrives (Starlette's parser),
then read once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Final

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from subgroups.web.errors import HttpError
from subgroups.web.state import services_of

MIB: Final = 1024 * 1024
# The form's other fields and the multipart boundaries and headers around the file.
_ENVELOPE: Final = 64 * 1024
# The slowest sending rate an upload is waited for, on top of the time any body gets.
_SLOWEST_RATE: Final = 256 * 1024  # bytes per second
_MAX_FIELDS: Final = 20
_MAX_FIELD_BYTES: Final = 4096


def too_large(max_bytes: int) -> HttpError:
    return HttpError(
        413,
        f"The file is larger than {max_bytes // MIB} MB: split it into smaller files,"
        " or import it with `subgroups import`.",
    )


@dataclass(frozen=True, slots=True)
class Upload:
    """The file a form carried: its name as the browser gave it (no folders) and its bytes."""

    file_name: str
    content: bytes


async def read_upload(request: Request) -> tuple[dict[str, str], Upload | None]:
    """The text fields and the file (None when none was chosen) of a multipart form.

    Refuses (413) a body larger than the bound before reading past it, (408) one that does not
    arrive in time, and (400) one that is not a multipart form with at most one file. The bound
    is the HTTP import's (`SUBGROUPS_IMPORT_MAX_BYTES`)."""
    settings = services_of(request).settings
    max_bytes = settings.import_max_bytes
    cap = max_bytes + _ENVELOPE
    expected = _declared_length(request, cap, max_bytes)
    time_limit = settings.body_timeout_seconds + expected / _SLOWEST_RATE
    parser = MultiPartParser(
        request.headers,
        _capped(request, cap, max_bytes),
        max_files=1,
        max_fields=_MAX_FIELDS,
        max_part_size=_MAX_FIELD_BYTES,
    )
    try:
        async with asyncio.timeout(time_limit):
            form = await parser.parse()
    except TimeoutError:
        raise HttpError(408, "Request Timeout") from None
    except MultiPartException:
        raise HttpError(400, "This form could not be read.") from None
    fields: dict[str, str] = {}
    upload: Upload | None = None
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                upload = await _upload(value, max_bytes) if value.filename else None
            else:
                fields.setdefault(name, value)
    finally:
        await form.close()
    return fields, upload


def _declared_length(request: Request, cap: int, max_bytes: int) -> int:
    declared = request.headers.get("content-length")
    if declared is None:
        return cap
    if not (declared.isascii() and declared.isdigit()):
        raise HttpError(400, "Invalid Content-Length header")
    if int(declared) > cap:
        raise too_large(max_bytes)
    return int(declared)


async def _capped(request: Request, cap: int, max_bytes: int) -> AsyncGenerator[bytes, None]:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise too_large(max_bytes)
        yield chunk


async def _upload(file: UploadFile, max_bytes: int) -> Upload:
    if file.size is not None and file.size > max_bytes:
        raise too_large(max_bytes)
    name = (file.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return Upload(name, await file.read())
