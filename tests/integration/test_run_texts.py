"""Issue 11, `kotaku run` and `kotaku chat`: what they print comes from the catalogue, in `app.language`, with
roles by their label (`ketua KSM`, not `ketua_ksm`); `kotaku outbox retry` with an unknown id says which and
exits non-zero."""

from __future__ import annotations

import ast
import json
import os
import pty
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot.main
from kotaku import catalogue
from kotaku.security import generate_key
from tests.catalogue_keys import says
from tests.cli import clean_env, run

AT = "2026-11-26T16:00"  # Thursday 16:00 WIB
MAIN_SOURCE = Path(bot.main.__file__)


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process CLI prints to a console sized when it was imported: the tables here are read
    column by column, so it is made wide whatever terminal (or none) the tests run in."""
    import kotaku.cli

    monkeypatch.setattr(kotaku.cli.out, "width", 200)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for cleaned in clean_env(tmp_path, monkeypatch):
        yield {**cleaned, "KOTAKU_SECURITY__NIK_KEY": generate_key()}


def seeded(env: dict[str, str]) -> list[dict[str, str]]:
    """The demo program; its people as `kotaku chat --list --json` gives them."""
    assert run(env, "db", "upgrade").exit_code == 0
    demo = run(env, "demo", "--at", AT, "--json")
    assert demo.exit_code == 0, demo.output
    listed = run(env, "chat", "--list", "--json")
    assert listed.exit_code == 0, listed.output
    people: list[dict[str, str]] = json.loads(listed.stdout)
    assert len(people) > 10
    return people


def row_of(table: str, code: str) -> list[str]:
    """The cells of the first line of a person's row."""
    [row] = [line for line in table.splitlines() if f" {code} " in line]
    return [cell.strip() for cell in row.split("│")]


def assert_people_by_label(table: str, people: list[dict[str, str]], lang: str) -> None:
    """Each person's row names the role by its label in `lang`, never by its code."""
    assert says(table, "run.people.title", lang)
    header = next(line for line in table.splitlines() if catalogue.t("run.people.col.code", lang) in line)
    columns = [cell.strip() for cell in header.split("┃")]
    for col in ("name", "role", "scope", "phone"):
        assert catalogue.t(f"run.people.col.{col}", lang) in columns
    role_col = columns.index(catalogue.t("run.people.col.role", lang))
    roles = {p["role"] for p in people}
    assert {"ketua_ksm", "worker", "bkm", "fasilitator", "provinsi", "nasional"} <= roles
    for p in people:
        assert row_of(table, p["code"])[role_col] == catalogue.role_label(p["role"], lang), p
    assert "ketua_ksm" not in table


@pytest.mark.parametrize("lang", ["id", "en"])
def test_chat_list_shows_roles_by_their_label(env: dict[str, str], lang: str) -> None:
    people = seeded(env)
    assert {"code": "ketua-bejalen", "role": "ketua_ksm"}.items() <= next(
        p for p in people if p["code"] == "ketua-bejalen"
    ).items()  # the JSON keeps the role's code
    listed = run({**env, "KOTAKU_APP__LANGUAGE": lang, "COLUMNS": "200"}, "chat", "--list")
    assert listed.exit_code == 0, listed.output
    assert_people_by_label(listed.stdout, people, lang)
    assert ("ketua KSM" in listed.stdout) == (lang == "id")


def kotaku_on_a_terminal(env: dict[str, str], cwd: Path, *args: str, typed: str) -> tuple[int, str, str]:
    """Run the `kotaku` command with a terminal as its input (so `kotaku run` asks who you are)."""
    exe = Path(sys.executable).parent / "kotaku"
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [str(exe), *args],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            text=True,
        )
    finally:
        os.close(slave)
    try:
        os.write(master, typed.encode())
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return proc.returncode, stdout, stderr


def test_the_people_picker_of_kotaku_run(env: dict[str, str], tmp_path: Path) -> None:
    people = seeded(env)
    number = next(i for i, p in enumerate(people, 1) if p["code"] == "fasil-ambarawa")
    picked = people[number - 1]
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KOTAKU_")},
        **env,
        "COLUMNS": "200",
    }
    rc, stdout, stderr = kotaku_on_a_terminal(
        full_env, tmp_path, "run", "--at", AT, typed=f"{len(people) + 1}\n{number}\n/keluar\n"
    )
    assert rc == 0, stderr

    # The numbered table, roles by label; the prompt names the first KSM coordinator as the default.
    assert row_of(stdout, "ketua-bejalen")[1] == "1"
    assert_people_by_label(stdout, people, "id")
    assert says(stdout, "run.pick", default="ketua-bejalen")
    assert says(stderr, "run.pick_unknown", answer=str(len(people) + 1))
    assert says(stdout, "run.console_fallback")
    role = catalogue.role_label(picked["role"])
    assert says(
        stdout, "console.banner", who=f"{picked['name']} ({picked['code']}, {role}, {picked['scope']})"
    )


def test_chat_and_run_refusals_come_from_the_catalogue(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").exit_code == 0
    empty = run(env, "run")
    assert empty.exit_code == 2 and says(empty.stderr, "run.no_people")
    nobody = run(env, "chat")
    assert nobody.exit_code == 2 and says(nobody.stderr, "run.chat_needs_person")
    seeded(env)
    bad_at = run(env, "chat", "--as", "ketua-bejalen", "--at", "kemarin")
    assert bad_at.exit_code == 2 and says(bad_at.stderr, "cli.bad_at", value="kemarin")
    english = run({**env, "KOTAKU_APP__LANGUAGE": "en"}, "chat")
    assert english.exit_code == 2 and says(english.stderr, "run.chat_needs_person", "en")
    assert not says(english.stderr, "run.chat_needs_person", "id")
    webhook = {**env, "KOTAKU_TELEGRAM__TOKEN": "123:abc", "KOTAKU_TELEGRAM__MODE": "webhook"}
    cannot = run(webhook, "run")
    assert cannot.exit_code == 2 and says(cannot.stderr, "run.channel_cannot_start")


def test_an_unmigrated_database_is_named_in_the_configured_language(env: dict[str, str]) -> None:
    refused = run({**env, "KOTAKU_APP__LANGUAGE": "en"}, "run")
    assert refused.exit_code == 2
    assert says(refused.stderr, "run.not_migrated", "en", current=catalogue.t("cli.db.base", "en"))


def _sentence(arg: ast.expr) -> bool:
    """A text written in the code: a string with words that is not a catalogue key, or an f-string that
    does not build a key of a catalogue family (`f"run.people.col.{col}"`)."""
    if isinstance(arg, ast.Constant):
        text = arg.value
        return isinstance(text, str) and any(c.isalpha() for c in text) and not catalogue.has(text)
    if isinstance(arg, ast.JoinedStr):
        head = arg.values[0]
        prefix = head.value if isinstance(head, ast.Constant) and isinstance(head.value, str) else ""
        return not (
            re.fullmatch(r"[a-z_]+(\.[a-z_]+)*\.", prefix)
            and any(k.startswith(prefix) for k in catalogue.all_messages())
        )
    return False


def test_bot_main_prints_no_sentence_of_its_own() -> None:
    """Every print, prompt and error of bot/main.py is a catalogue key, not a string literal."""
    tree = ast.parse(MAIN_SOURCE.read_text(encoding="utf-8"))
    said = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        shown = ("print", "input", "_say", "_fail", "_t", "add_column", "Table")
        if name in shown and node.args and _sentence(node.args[0]):
            said.append(f"line {node.lineno}: {ast.unparse(node.args[0])}")
        for kw in node.keywords:
            if name in ("Table", "print") and kw.arg == "title" and _sentence(kw.value):
                said.append(f"line {node.lineno}: {ast.unparse(kw.value)}")
    assert said == []
    keys = {
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant)
        and isinstance(n.value, str)
        and n.value.startswith("run.")
        and not n.value.endswith(".")  # the head of an f-string key
    }
    assert len(keys) >= 8 and all(catalogue.has(k) for k in keys)


# --- kotaku outbox retry ------------------------------------------------------------------------------


def failed_message(env: dict[str, str]) -> int:
    db_file = env["KOTAKU_DATABASE__URL"].removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(db_file) as conn:
        cursor = conn.execute(
            "INSERT INTO outbox_message (dedup_key, channel, recipient, person_id, kind, payload, priority, "
            "status, attempts, next_attempt_at, created_at, last_error) VALUES ('retry-1', 'console', "
            "'fasil-ambarawa', NULL, 'reminder', ?, 1, 'failed', 5, '2026-11-26 09:00:00', "
            "'2026-11-26 09:00:00', 'blocked')",
            (json.dumps({"text": "Pengingat"}),),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid


def outbox_status(env: dict[str, str], message_id: int) -> str:
    doc = json.loads(run(env, "outbox", "list", "--json").stdout)
    return next(m["status"] for m in doc["messages"] if m["id"] == message_id)


def test_outbox_retry_of_unknown_ids_says_which_and_exits_non_zero(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").exit_code == 0
    failed = failed_message(env)

    unknown = run(env, "outbox", "retry", "999999")
    assert unknown.exit_code == 2
    assert says(unknown.stderr, "cli.outbox.not_found", ids="999999")

    # One unknown id among known ones: all of them named, nothing requeued.
    mixed = run(env, "outbox", "retry", str(failed), "999999", "999998", "--json")
    assert mixed.exit_code == 2 and mixed.stdout == ""
    assert says(mixed.stderr, "cli.outbox.not_found", ids="999998, 999999")
    assert outbox_status(env, failed) == "failed"

    english = run({**env, "KOTAKU_APP__LANGUAGE": "en"}, "outbox", "retry", "999999")
    assert english.exit_code == 2 and says(english.stderr, "cli.outbox.not_found", "en", ids="999999")

    known = run(env, "outbox", "retry", str(failed))
    assert known.exit_code == 0 and says(known.stdout, "cli.outbox.requeued", n=1)
    assert outbox_status(env, failed) == "pending"
