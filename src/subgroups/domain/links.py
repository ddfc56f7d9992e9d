"""Signed links for the person (contract §11): what a token says and how it is checked.

A token is `base64url(claim || tag)`: the claim packs the link's kind, the workspace, the id of
the workspace's secret that signed it, the profile and, for an unsubscribe link, the group's
internal key; the tag is the first 16 bytes of HMAC-SHA256 over a label and the claim. Nothing is
stored per link, and nothing in a token is secret: it only cannot be forged or altered. A token
stops working when the secret that signed it is retired (rotation with a grace period).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Final

TAG_BYTES: Final = 16
_LABEL: Final = b"subgroups link v1\x00"
_CSRF_LABEL: Final = b"subgroups preference form v1\x00"
# kind, workspace id, secret id, profile id
_HEAD: Final = struct.Struct(">BIIQ")
_GROUP: Final = struct.Struct(">I")
MAX_TOKEN_CHARS: Final = 64


class LinkKind(IntEnum):
    UNSUBSCRIBE = 1
    PREFERENCES = 2


@dataclass(frozen=True, slots=True)
class Claim:
    kind: LinkKind
    workspace_id: int
    secret_id: int
    profile_id: int
    group_pk: int | None = None

    def packed(self) -> bytes:
        head = _HEAD.pack(self.kind, self.workspace_id, self.secret_id, self.profile_id)
        return head if self.group_pk is None else head + _GROUP.pack(self.group_pk)


def _tag(secret: bytes, label: bytes, message: bytes) -> bytes:
    return hmac.new(secret, label + message, hashlib.sha256).digest()[:TAG_BYTES]


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign(claim: Claim, secret: bytes) -> str:
    """The token for `claim`, signed with `secret` (the one `claim.secret_id` names)."""
    packed = claim.packed()
    return _encode(packed + _tag(secret, _LABEL, packed))


def read_claim(token: str, kind: LinkKind) -> Claim | None:
    """What the token claims, if it is a well-formed token of this kind; NOT yet verified (the
    claim names the workspace and the secret to verify it with: see `verifies`)."""
    if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    expected = _HEAD.size + (_GROUP.size if kind is LinkKind.UNSUBSCRIBE else 0) + TAG_BYTES
    # The encoding must be the one `sign` writes, character for character: a token with other
    # padding bits or characters is not one of ours, even if it decodes to the same bytes.
    if len(raw) != expected or _encode(raw) != token:
        return None
    found, workspace_id, secret_id, profile_id = _HEAD.unpack_from(raw)
    if found != kind:
        return None
    group_pk = _GROUP.unpack_from(raw, _HEAD.size)[0] if kind is LinkKind.UNSUBSCRIBE else None
    return Claim(kind, workspace_id, secret_id, profile_id, group_pk)


def verifies(token: str, claim: Claim, secret: bytes) -> bool:
    """Whether `token` carries `claim` signed by `secret` (compared in constant time)."""
    return hmac.compare_digest(token.encode(), sign(claim, secret).encode())


def form_token(token: str, secret: bytes) -> str:
    """The preference form's anti-forgery token: bound to the link, signed by the same secret."""
    return _encode(_tag(secret, _CSRF_LABEL, token.encode()))


def form_token_matches(sent: str, token: str, secret: bytes) -> bool:
    return hmac.compare_digest(sent.encode(), form_token(token, secret).encode())


@dataclass(frozen=True, slots=True)
class LinkSecret:
    """One of a workspace's link-signing secrets; it verifies until `retires_at` (None: for good)."""

    id: int
    secret: bytes = field(repr=False)
    created_at: datetime
    retires_at: datetime | None
