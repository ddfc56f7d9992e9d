"""The domain's exceptions. Every failure a caller can cause is one of these.

    SubgroupsError
     ├── InvalidRequest        the input breaks a rule; nothing was changed (HTTP 400)
     │    ├── ItemRejected     one object of a multi-group request broke a rule (carries its position)
     │    └── GroupArchived    a set named a group that is archived (carries the group's id)
     ├── AuthenticationFailed  no key, or not a key we know (HTTP 401)
     ├── PermissionDenied      a known key that may not do this (HTTP 403)
     ├── RateLimited           the workspace spent its budget (HTTP 429)
     ├── SignInRefused         a dashboard sign-in with a wrong email or password, or while locked out
     ├── NotFound              an admin referred to something that does not exist
     ├── Conflict              an admin tried to create a duplicate
 │    └── LeaseLost        an import's batch came from a process that no longer runs it
     ├── SchemaNotCurrent      the database needs `subgroups db upgrade`
     ├── NotConfigured         a setting this needs is missing (SUBGROUPS_SECRET_KEY)
     └── DatabaseUnavailable   the database cannot be reached or opened (HTTP 503); raised by
                               storage in place of the driver's own exceptions

`message` is the exact text a client receives; the contract fixes most of them.
"""

from __future__ import annotations


class SubgroupsError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(SubgroupsError):
    pass


class ItemRejected(InvalidRequest):
    """A v2 group object failed; `position` is its index in `subscription_groups`."""

    def __init__(self, position: int, cause: InvalidRequest) -> None:
        super().__init__(cause.message)
        self.position = position
        self.cause = cause


class GroupArchived(InvalidRequest):
    """The group `group_id` is archived, found so by the write itself or before it."""

    def __init__(self, group_id: str) -> None:
        super().__init__(f"Subscription group '{group_id}' is archived and cannot be changed")
        self.group_id = group_id


class AuthenticationFailed(SubgroupsError):
    def __init__(self) -> None:
        super().__init__("Invalid API key")


class PermissionDenied(SubgroupsError):
    pass


class RateLimited(SubgroupsError):
    def __init__(self, retry_after: int) -> None:
        super().__init__("Rate limit exceeded")
        self.retry_after = retry_after


class SignInRefused(SubgroupsError):
    """`retry_after` (seconds) is set when the email is locked out from this address."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(SubgroupsError):
    pass


class Conflict(SubgroupsError):
    pass


class SchemaNotCurrent(SubgroupsError):
    pass


class NotConfigured(SubgroupsError):
    pass


class DatabaseUnavailable(SubgroupsError):
    """The database could not be reached, opened or used; `detail` is the driver's own words.

    `message` says nothing about the database (it may reach a client); `detail` is for operators.
    """

    def __init__(self, detail: str) -> None:
        super().__init__("The database is unavailable")
        self.detail = detail


class LeaseLost(Conflict):
    """Another process took the import over (this one's lease had gone stale)."""

    def __init__(self, import_id: str) -> None:
        super().__init__(f"Import {import_id} is now run by another process")
