"""`subgroups`: the admin command line. One module per topic; each command is a thin call to a service."""

from __future__ import annotations

import click

from subgroups.cli.admins import admin
from subgroups.cli.changes import changes
from subgroups.cli.db import db
from subgroups.cli.groups import group
from subgroups.cli.keys import key
from subgroups.cli.profiles import profile
from subgroups.cli.serve import demo, serve
from subgroups.cli.workspaces import workspace


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="subgroups")
def main() -> None:
    """Admin tool for the subgroups service. The database is SUBGROUPS_DATABASE_URL
    (default: subgroups.db in the current directory) unless --database-url is given."""


for command in (db, workspace, key, group, profile, changes, admin, serve, demo):
    main.add_command(command)
