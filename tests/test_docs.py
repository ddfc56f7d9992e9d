"""docs/api.md, the OpenAPI document and the code describe the same API."""

from __future__ import annotations

import re
from pathlib import Path

from subgroups.web.api.reference import document
from tests.api.test_openapi import documented_messages, documented_operations, documented_statuses

API_DOC = (Path(__file__).parents[1] / "docs" / "api.md").read_text()


def _as_pattern(documented: str) -> re.Pattern[str]:
    """A message of docs/api.md as a pattern: its `<placeholder>`s match any text."""
    parts = re.split(r"<[^<>]+>", documented)
    return re.compile(".+".join(re.escape(part) for part in parts))


# §5: a v2 object's error is the §4 message behind its position (`subscription_groups[i]: `).
POSITION = re.compile(r"^subscription_groups\[(\d+|i)\]: ")
# Messages appear as `{"message":"..."}` bodies or as plain `...` spans.
DOC_MESSAGES = [
    _as_pattern(POSITION.sub("", m))
    for m in re.findall(r'\{"message":\s*"((?:[^"\\]|\\.)*)"\}', API_DOC)
    + re.findall(r"`([^`]+)`", API_DOC)
]


def test_every_documented_path_is_in_the_api_page() -> None:
    missing = sorted(
        {
            path
            for _, path in documented_operations()
            if f"`{path}" not in API_DOC and f"{path}`" not in API_DOC
        }
    )
    assert missing == []


def test_every_status_the_document_lists_is_in_the_api_page() -> None:
    statuses = {
        s for method, path in documented_operations() for s in documented_statuses(method, path)
    }
    missing = sorted(s for s in statuses if not re.search(rf"\b{s}\b", API_DOC))
    assert missing == []


def test_every_error_message_of_the_document_is_in_the_api_page() -> None:
    messages = {
        message
        for method, path in documented_operations()
        for status in documented_statuses(method, path)
        if status >= 400 and "content" in _response(method, path, status)
        for message in documented_messages(method, path, status)
    }
    missing = sorted(
        m for m in messages if not any(p.fullmatch(POSITION.sub("", m)) for p in DOC_MESSAGES)
    )
    assert missing == []


def _response(method: str, path: str, status: int) -> dict[str, object]:
    response: dict[str, object] = document()["paths"][path][method.lower()]["responses"][
        str(status)
    ]
    ref = response.get("$ref")
    if isinstance(ref, str):
        resolved: dict[str, object] = document()["components"]["responses"][ref.rsplit("/", 1)[1]]
        return resolved
    return response
