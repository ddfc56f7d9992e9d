"""Secrets kept in the database, sealed with a key that is not (AES-256-GCM).

A webhook's signing secret must be readable by the dispatcher, so it cannot be hashed like an API
key. Sealed, a copy of the database alone (a dump, a backup, a stolen replica) does not reveal it:
the key comes from SUBGROUPS_SECRET_KEY, or on SQLite, where nothing is to be set up, from a key
file beside the database that is made on first use. Each sealed value is bound to what it belongs
to (the associated data), so a sealed secret copied onto another endpoint does not open.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from subgroups.config import Settings
from subgroups.errors import NotConfigured

_VERSION: Final = "v1:"
_NONCE_BYTES: Final = 12
KEY_FILE_SUFFIX: Final = ".secret-key"


NO_KEY_MESSAGE: Final = (
    "SUBGROUPS_SECRET_KEY must be set to keep webhook secrets on PostgreSQL, the same in every"
    " process: make one with `openssl rand -base64 32`"
)


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plain: str, *, context: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plain.encode(), context.encode())
        return _VERSION + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str, *, context: str) -> str:
        if not sealed.startswith(_VERSION):
            raise ValueError("not a sealed value")
        raw = base64.urlsafe_b64decode(sealed[len(_VERSION) :])
        try:
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise ValueError(
                "a sealed secret does not open with this key: SUBGROUPS_SECRET_KEY differs from"
                " the one it was sealed with"
            ) from None
        return plain.decode()


class LazySecretBox:
    """The box for `settings`, made when a secret is first sealed or opened: a process that never
    touches a webhook secret needs no key (and makes no key file)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._box: SecretBox | None = None

    def seal(self, plain: str, *, context: str) -> str:
        return self._get().seal(plain, context=context)

    def open(self, sealed: str, *, context: str) -> str:
        return self._get().open(sealed, context=context)

    def _get(self) -> SecretBox:
        if self._box is None:
            self._box = SecretBox(_key(self._settings))
        return self._box


def _key(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return settings.secret_key
    database = settings.sqlite_file()
    if database is None:
        raise NotConfigured(NO_KEY_MESSAGE)
    return _key_file(Path(database + KEY_FILE_SUFFIX))


def _key_file(path: Path) -> bytes:
    """The key in `path`, made (readable by this user only) if there is none yet.

    A new key is written in full to a file of its own and then linked into place, which fails if
    another process got there first: nobody ever reads a half-written key."""
    if not path.exists():
        draft = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = base64.b64decode(path.read_text().strip())
    if len(key) != 32:
        raise ValueError(f"{path.name} does not hold a 32-byte key")
    return key
