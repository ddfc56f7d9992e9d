"""Logging: one JSON object per line, with secrets and personal data masked.

`logging_config` is the whole configuration; `subgroups serve` hands it to uvicorn, so uvicorn's
own loggers write the same format. Every string that reaches a line passes through `scrub`, which
masks API keys (`sgk_…`), email addresses (`j***@example.com`) and E.164 phone numbers
(`+1******4444`), wherever they appear: in messages, in exception text (SQL parameters included)
and in fields such as the request path.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from subgroups.web.server.log_writer import BatchedStderrHandler

# The request fields a record may carry (as `extra=`), in the order they are written.
FIELDS: Final = (
    "request_id",
    "method",
    "route",
    "path",
    "status",
    "duration_ms",
    "workspace_id",
    "key_id",
    "client_ip",
)

_KEY = re.compile(r"sgk_[A-Za-z0-9_\-]*")
_STOP = r"\s@'\"<>(),;:\[\]{}=/\\"
_EMAIL = re.compile(rf"([^{_STOP}])[^{_STOP}]*@(?=[^{_STOP}])")
_PHONE = re.compile(r"(?<![\w+])\+(\d)(\d{2,10})(\d{4})(?!\d)")


def scrub(text: str) -> str:
    # Each pattern needs a literal its match cannot do without; most strings hold none of them,
    # and testing for a substring costs a fraction of running a pattern (every request's access
    # line passes half a dozen strings through here).
    if "sgk_" in text:
        text = _KEY.sub("sgk_[redacted]", text)
    if "@" in text:
        text = _EMAIL.sub(r"\1***@", text)
    if "+" in text:
        text = _PHONE.sub(lambda m: f"+{m[1]}{'*' * len(m[2])}{m[3]}", text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                doc[name] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            doc["exception"] = scrub(self.formatException(record.exc_info))
        return orjson.dumps(doc).decode()


def logging_config(level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` document: everything to stderr as JSON lines, in batches."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {"()": BatchedStderrHandler, "formatter": "json"},
        },
        "loggers": {
            "subgroups": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }
