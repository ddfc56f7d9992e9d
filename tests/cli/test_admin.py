"""`subgroups admin`, in-process, on both backends."""

from __future__ import annotations

import orjson
from click.testing import CliRunner

from subgroups.cli import main


def admin(database_url: str, *args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["admin", *args, "--database-url", database_url], input=input)
    return result.exit_code, result.output


def test_create_reads_the_password_from_stdin_and_prints_json(database_url: str) -> None:
    code, out = admin(
        database_url,
        "create",
        "Ops@Example.com",
        "--password-stdin",
        "--json",
        input="a long password\n",
    )

    assert code == 0
    assert orjson.loads(out) == {"id": 1, "email": "ops@example.com"}
    code, out = admin(database_url, "list", "--json")
    assert [a["email"] for a in orjson.loads(out)["admins"]] == ["ops@example.com"]


def test_create_prompts_for_the_password_twice_without_echoing_it(database_url: str) -> None:
    code, out = admin(
        database_url, "create", "ops@example.com", input="a long password\na long password\n"
    )

    assert code == 0
    assert out.count("Password") == 1
    assert "Repeat for confirmation" in out
    assert "a long password" not in out
    assert "created dashboard user 1 (ops@example.com)" in out


def test_a_mismatched_confirmation_asks_again(database_url: str) -> None:
    code, out = admin(
        database_url,
        "create",
        "ops@example.com",
        input="a long password\nsomething else\na long password\na long password\n",
    )

    assert code == 0
    assert "do not match" in out


def test_refusals_exit_1_with_a_message(database_url: str) -> None:
    ok = "a long password\n"
    assert admin(database_url, "create", "ops@example.com", "--password-stdin", input=ok)[0] == 0

    duplicate = admin(
        database_url, "create", "OPS@example.com", "--password-stdin", "--json", input=ok
    )
    short = admin(
        database_url, "create", "b@example.com", "--password-stdin", "--json", input="short\n"
    )
    invalid = admin(database_url, "create", "not-an-email", "--password-stdin", "--json", input=ok)
    empty = admin(database_url, "create", "c@example.com", "--password-stdin", "--json", input="\n")

    assert duplicate == (1, '{"message":"A dashboard user \'ops@example.com\' already exists"}\n')
    assert short == (1, '{"message":"A password is 10 to 1024 characters"}\n')
    assert invalid == (1, '{"message":"Invalid email address: \'not-an-email\'"}\n')
    assert empty == (1, '{"message":"no password on standard input"}\n')


def test_set_password_replaces_it(database_url: str) -> None:
    admin(database_url, "create", "ops@example.com", "--password-stdin", input="a long password\n")

    code, out = admin(
        database_url,
        "set-password",
        "ops@example.com",
        "--password-stdin",
        input="another password\n",
    )
    missing = admin(
        database_url,
        "set-password",
        "x@example.com",
        "--password-stdin",
        input="another password\n",
    )

    assert code == 0
    assert "sessions have ended" in out
    assert missing == (1, "error: No dashboard user 'x@example.com'\n")
