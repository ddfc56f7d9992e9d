"""The README's admin CLI section says what the commands do: the commands and options it shows
exist, and the exit statuses it gives are the ones a refusal and a usage error get."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from subgroups.cli import main

README = (Path(__file__).parents[2] / "README.md").read_text()


def shown_commands() -> list[str]:
    """Every `subgroups …` command line of the README's shell examples, without its comment."""
    blocks = re.findall(r"^```sh\n(.*?)^```", README, re.M | re.S)
    lines = [line for block in blocks for line in block.splitlines()]
    return [
        found.group(1).split(" #")[0].strip()
        for line in lines
        if (found := re.search(r"(?:^|\| )(subgroups .*)", line))
    ]


def command_of(line: str) -> tuple[list[str], click.Command]:
    """The command path a README line names (`key create`) and its click command."""
    path: list[str] = []
    command: click.Command = main
    for word in line.split()[1:]:
        if not isinstance(command, click.Group) or word.startswith(("-", "[", "(", "<", '"')):
            break
        found = command.get_command(click.Context(command), word)
        assert found is not None, f"the README shows `{line}`: no command `{word}`"
        path.append(word)
        command = found
    return path, command


def test_the_readme_shows_commands() -> None:
    assert len(shown_commands()) > 20


@pytest.mark.parametrize("line", shown_commands())
def test_every_command_and_option_the_readme_shows_exists(line: str) -> None:
    path, command = command_of(line)
    options = {name for p in command.params for name in p.opts}

    assert not isinstance(command, click.Group), f"`{line}` names a group, not a command"
    assert set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", line)) <= options, line
    assert CliRunner().invoke(main, [*path, "--help"]).exit_code == 0


def test_the_exit_statuses_are_the_ones_the_readme_gives() -> None:
    statuses = re.search(
        r"exits with status 0 when .*?, (\d) when it was refused .*? and (\d) for a usage error",
        " ".join(README.split()),
    )
    assert statuses is not None, "the README no longer gives the exit statuses"
    refused, usage = (int(status) for status in statuses.groups())

    assert CliRunner().invoke(main, ["key", "list", "--database-url", "foo"]).exit_code == refused
    assert CliRunner().invoke(main, ["key", "list", "--wat"]).exit_code == usage
