"""The schema, as SQLAlchemy Core tables. Migrations are generated from and checked against this."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class Timestamp(TypeDecorator[datetime]):
    """An aware UTC datetime on both backends (SQLite would otherwise hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", Timestamp(), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", ForeignKey("workspaces.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    # The first characters of the secret, shown in listings so an operator can tell keys apart.
    Column("prefix", String(32), nullable=False),
    # SHA-256 of the secret. Secrets are 256-bit random, so a fast hash is enough (no dictionary to try).
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("permissions", Text, nullable=False),  # space-separated Permission values
    Column("allowed_ips", Text, nullable=False, default=""),  # space-separated CIDRs; empty = any
    Column("created_at", Timestamp(), nullable=False),
    Column("revoked_at", Timestamp()),
    Column("last_used_at", Timestamp()),
)

subscription_groups = Table(
    "subscription_groups",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("workspace_id", ForeignKey("workspaces.id"), nullable=False),
    Column("id", String(64), nullable=False),  # the public id clients send
    Column("name", String(200), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("description", Text),
    Column("created_at", Timestamp(), nullable=False),
    Column("archived_at", Timestamp()),
    UniqueConstraint("workspace_id", "id"),
    UniqueConstraint("workspace_id", "name"),
    CheckConstraint("channel IN ('email', 'sms')", name="channel"),
)

profiles = Table(
    "profiles",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("workspace_id", ForeignKey("workspaces.id"), nullable=False),
    Column("external_id", String(512)),
    Column("email", String(320)),
    Column("phone", String(20)),
    Column("created_at", Timestamp(), nullable=False),
    # Each lookup index carries the profile's id, so that status/get, which needs only the id from
    # the profile, reads it from the index without visiting the table (an index-only scan on
    # PostgreSQL; SQLite's indexes hold the rowid, which is `id`, anyway). On a large table that
    # visit is one page per id, most often from outside the buffers.
    UniqueConstraint("workspace_id", "external_id", postgresql_include=["id"]),
    Index(None, "workspace_id", "email", postgresql_include=["id"]),
    Index(None, "workspace_id", "phone", postgresql_include=["id"]),
)

subscription_states = Table(
    "subscription_states",
    metadata,
    Column("profile_id", ForeignKey("profiles.id"), primary_key=True),
    Column("group_pk", ForeignKey("subscription_groups.pk"), primary_key=True),
    Column("subscribed", Boolean, nullable=False),
    Column("updated_at", Timestamp(), nullable=False),
    # Only the primary key indexes this table, and it holds no column a flip changes: so on
    # PostgreSQL a flip is a heap-only (HOT) update, which rewrites the row on its own page and
    # touches no index, when the page has room; the fill factor leaves that room on each page.
    # Group sizes are therefore summed from the change records, not counted here (see
    # group_sizes and storage/reports.py).
    postgresql_with={"fillfactor": 80},
)

# The consent record: append-only, and written by the same statement that found or created its
# profile, inside the workspace the API key belongs to; neither profiles nor workspaces are ever
# deleted. So it carries no foreign keys: on PostgreSQL each would cost, per record, a lookup and a
# row lock on the profile (dirtying its page) and on the one workspace row that every concurrent
# write shares. The identifiers are kept by value, so a record stands on its own.
state_changes = Table(
    "state_changes",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("workspace_id", Integer, nullable=False),
    Column("profile_id", BigId, nullable=False),
    Column("external_id", String(512)),
    Column("email", String(320)),
    Column("phone", String(20)),
    Column("subscription_group_id", String(64), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("old_state", String(12)),
    Column("new_state", String(12), nullable=False),
    Column("occurred_at", Timestamp(), nullable=False),
    Column("source", String(32), nullable=False),
    Column("api_key_id", Integer),
    Column("request_id", String(64)),
    Column("client_ip", String(64)),
    Column("operator", String(320)),  # the dashboard user's email, for source Dashboard
    # The person's own changes (§11): their user agent, and the reason they gave for leaving (one
    # of a fixed list, counted on a group's page) with their own words beside it.
    Column("user_agent", String(512)),
    Column("reason", String(64)),
    Column("reason_detail", String(500)),
    # Set by an import (source CSV Import): which import, and the consent the file vouched for.
    Column("import_id", String(36)),
    Column("consented_at", Timestamp()),
    Column("consent_source", String(200)),
    Index(None, "workspace_id", "id"),
    Index(None, "workspace_id", "subscription_group_id", "occurred_at"),
    Index(None, "profile_id", "id"),
    # A group's page counts the reasons people gave in the last 30/90 days: the few records that
    # carry one, found without reading the group's every change.
    Index(
        "ix_state_changes_reasons",
        "workspace_id",
        "subscription_group_id",
        "occurred_at",
        postgresql_where=text("reason IS NOT NULL"),
        sqlite_where=text("reason IS NOT NULL"),
    ),
)

# The net change of each group's sizes per settled UTC day, computed from state_changes the first
# time the dashboard needs it and kept (a day's records do not change once the day is over). The
# size charts read these rows instead of re-counting every change of the last 90 days.
group_day_changes = Table(
    "group_day_changes",
    metadata,
    Column("group_pk", ForeignKey("subscription_groups.pk"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("subscribed", Integer, nullable=False),
    Column("unsubscribed", Integer, nullable=False),
)

# Each group's sizes summed from its change records before `through_day` (a UTC day that is over,
# so no record joins it later). The sizes now are these plus the records since, summed when read:
# the write path keeps no counter (one hot row per group would serialise every write to it).
group_sizes = Table(
    "group_sizes",
    metadata,
    Column("group_pk", ForeignKey("subscription_groups.pk"), primary_key=True),
    Column("through_day", Date, nullable=False),
    Column("subscribed", BigInteger, nullable=False),
    Column("unsubscribed", BigInteger, nullable=False),
)

# Dashboard users. Passwords are stored as argon2id hashes only.
operators = Table(
    "operators",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", Timestamp(), nullable=False),
)

# Server-side sessions: the cookie holds a random token, stored here only as its SHA-256, so a
# session ends for good when its row goes (sign-out, expiry, password change).
operator_sessions = Table(
    "operator_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("operator_id", ForeignKey("operators.id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Timestamp(), nullable=False),
    Column("expires_at", Timestamp(), nullable=False, index=True),
)

# Recent failed sign-ins per (email, client address): the basis of the lockout.
operator_sign_in_failures = Table(
    "operator_sign_in_failures",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("client_ip", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("first_failed_at", Timestamp(), nullable=False),
    Column("locked_until", Timestamp()),
)

# Where a workspace's events are pushed (contract §9). The queue of an endpoint is the state
# changes after `cursor` (queued into webhook_deliveries by the dispatcher that holds the lease),
# so an event is written with its change and nothing else needs to be, on the write path.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("workspace_id", ForeignKey("workspaces.id"), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("url", Text, nullable=False),
    Column("events", Text, nullable=False),  # space-separated event types
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text),
    # Sealed (storage/sealed_secrets.py): a dump of the database alone does not reveal them.
    Column("secret", Text, nullable=False),
    Column("previous_secret", Text),
    Column("previous_secret_expires_at", Timestamp()),
    # The id of the last state change queued for this endpoint.
    Column("cursor", BigInteger, nullable=False),
    Column("created_at", Timestamp(), nullable=False),
    # Which dispatcher sends for this endpoint, until when (it renews while it runs).
    Column("lease_owner", String(64)),
    Column("lease_expires_at", Timestamp()),
)

# The dispatchers running now (each renews its row while it runs): endpoints are shared out evenly
# among them, so that a process that starts later gets its part.
webhook_dispatchers = Table(
    "webhook_dispatchers",
    metadata,
    Column("owner", String(64), primary_key=True),
    Column("expires_at", Timestamp(), nullable=False),
)

# One row per event and endpoint: its attempts, and what the receiver answered last.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("workspace_id", Integer, primary_key=True),
    Column("endpoint_id", String(40), primary_key=True),
    Column("change_id", BigInteger, primary_key=True),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("queued_at", Timestamp(), nullable=False),
    Column("next_attempt_at", Timestamp()),
    Column("last_attempt_at", Timestamp()),
    Column("response_status", Integer),
    Column("latency_ms", Integer),
    Column("detail", Text),  # at most 1 KiB: the receiver's answer, or why there was none
    CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
    # What is due, per endpoint in id order: a small index, as only pending rows are in it.
    Index(
        "ix_webhook_deliveries_pending",
        "workspace_id",
        "endpoint_id",
        "change_id",
        postgresql_where=text("status = 'pending'"),
        sqlite_where=text("status = 'pending'"),
    ),
)

# The keys that sign a workspace's unsubscribe and preference links (§11). A token names the key
# that signed it; a rotated-out key keeps verifying until `retires_at`, then its links stop
# working. No row per link: a link is its token.
link_secrets = Table(
    "link_secrets",
    metadata,
    Column("workspace_id", ForeignKey("workspaces.id"), primary_key=True),
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("secret", String(64), nullable=False),  # hex of 32 random bytes
    Column("created_at", Timestamp(), nullable=False),
    Column("retires_at", Timestamp()),
)

# How a workspace's pages for people (unsubscribe, preferences) present it, and the key of its
# suppression entries, which never rotates (an entry must match the same address forever).
person_pages = Table(
    "person_pages",
    metadata,
    Column("workspace_id", ForeignKey("workspaces.id"), primary_key=True),
    Column("display_name", String(100)),
    Column("accent_color", String(7)),
    Column("suppression_key", String(64), nullable=False),
)

# What is kept of an erased person (§11): per address (an HMAC under the workspace's suppression
# key, never the address) and group, the state at erasure and the last opt-out, so that no import
# resubscribes the address without consent given after the erasure.
suppressions = Table(
    "suppressions",
    metadata,
    Column("workspace_id", ForeignKey("workspaces.id"), primary_key=True),
    Column("contact_hash", String(64), primary_key=True),
    Column("subscription_group_id", String(64), primary_key=True),
    Column("channel", String(8), nullable=False),
    Column("state", String(12), nullable=False),
    Column("opted_out_at", Timestamp(), nullable=False),
    Column("erased_at", Timestamp(), nullable=False),
)

# Each erasure: which profile, when and by whom; never the identifiers it removed.
erasures = Table(
    "erasures",
    metadata,
    Column("workspace_id", ForeignKey("workspaces.id"), primary_key=True),
    Column("profile_id", BigId, primary_key=True, autoincrement=False),
    Column("erased_at", Timestamp(), nullable=False),
    Column("erased_by", String(320), nullable=False),
    Column("suppressed", Integer, nullable=False),
)

# A CSV import: the job, its progress and its counts. Each batch of rows commits its changes, its
# error rows and the advance of `rows` here in one transaction, so a process that dies resumes
# after the last committed batch. `owner` and `heartbeat_at` are the lease of the process running
# it: another may take the job over once the lease is stale.
imports = Table(
    "imports",
    metadata,
    Column("workspace_id", ForeignKey("workspaces.id"), primary_key=True),
    Column("id", String(36), primary_key=True),
    Column("file_name", String(255), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("status", String(12), nullable=False),
    Column("total_rows", BigInteger),  # known once the file has been checked
    Column("rows", BigInteger, nullable=False),
    Column("unchanged", BigInteger, nullable=False),
    Column("refused", BigInteger, nullable=False),
    Column("invalid", BigInteger, nullable=False),
    Column("profiles_created", BigInteger, nullable=False),
    Column("subscribed", BigInteger, nullable=False),
    Column("unsubscribed", BigInteger, nullable=False),
    Column("failure", Text),  # why a failed import failed
    Column("ignored_columns", Text, nullable=False),  # the unknown header names, a JSON array
    Column("owner", String(64)),
    Column("heartbeat_at", Timestamp()),
    # Takings-up in a row that wrote no batch (reset by every batch): a job that keeps stopping
    # its runner before any progress is given up after a few, not retried forever.
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("created_at", Timestamp(), nullable=False),
    Column("finished_at", Timestamp()),
    Index(None, "workspace_id", "sha256"),
    Index(None, "workspace_id", "created_at"),  # a workspace's recent imports, newest first
)

# The file of an import started over HTTP or from the dashboard, kept until the import is over, so
# that whichever process runs it (or resumes it after a crash) reads the same bytes. It is kept in
# numbered parts of at most FILE_PART bytes: no driver then needs a copy of a whole file at once.
import_files = Table(
    "import_files",
    metadata,
    Column("workspace_id", Integer, primary_key=True),
    Column("import_id", String(36), primary_key=True),
    Column("part", Integer, primary_key=True),
    Column("content", LargeBinary, nullable=False),
    ForeignKeyConstraint(["workspace_id", "import_id"], ["imports.workspace_id", "imports.id"]),
)

# One row per invalid or refused row of an import (the first problem the row has).
import_errors = Table(
    "import_errors",
    metadata,
    Column("workspace_id", Integer, primary_key=True),
    Column("import_id", String(36), primary_key=True),
    Column("line", BigInteger, primary_key=True),
    Column("column_name", String(64), nullable=False),
    Column("value", Text, nullable=False),
    Column("message", Text, nullable=False),
    ForeignKeyConstraint(["workspace_id", "import_id"], ["imports.workspace_id", "imports.id"]),
)
