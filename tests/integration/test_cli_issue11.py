"""Issue 11, the `kotaku` command: migrations run both ways on a database with data, a failing command
exits non-zero with one sentence instead of a traceback, a resolution by hand survives `alerts evaluate`,
and what a person reads is in the catalogue, in `app.language` and in local time."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kotaku import catalogue, migrate
from kotaku.models import AlertStatus, OutboxStatus
from kotaku.reminders.service import KINDS as REMINDER_KINDS
from kotaku.security import generate_key
from tests.catalogue_keys import keys_in, says
from tests.cli import clean_env, run

AT = "2026-11-26T16:00"  # Thursday 16:00 WIB
LATER = "2026-11-26T18:00"
CLI_SOURCE = Path(__file__).resolve().parents[2] / "kotaku" / "cli.py"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for cleaned in clean_env(tmp_path, monkeypatch):
        yield {**cleaned, "KOTAKU_SECURITY__NIK_KEY": generate_key()}


def db_file(env: dict[str, str]) -> Path:
    return Path(env["KOTAKU_DATABASE__URL"].removeprefix("sqlite+aiosqlite:///"))


def counts(env: dict[str, str], *tables: str) -> dict[str, int]:
    with sqlite3.connect(db_file(env)) as conn:
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def revision(env: dict[str, str]) -> str | None:
    result = run(env, "db", "current", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["current"]


def seeded(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").exit_code == 0
    result = run(env, "demo", "--at", AT, "--json")
    assert result.exit_code == 0, result.output


# --- migrations ------------------------------------------------------------------------------------


def test_downgrade_to_base_and_up_again_on_the_demo_database(env: dict[str, str]) -> None:
    seeded(env)
    kept = ("person", "channel_identity", "ksm", "obstacle", "attendance_day")
    before = counts(env, *kept)
    assert before["channel_identity"] > 0 and before["obstacle"] == 3

    # Step by step first: every step that rebuilds a table keeps the rows of the tables that stay.
    head = migrate.head_revision()
    for _ in range(3):
        step = run(env, "db", "downgrade", "-1")
        assert step.exit_code == 0, step.output
        assert counts(env, *kept) == before
    assert revision(env) not in (None, head)

    down = run(env, "db", "downgrade", "base")
    assert down.exit_code == 0, down.output
    assert says(down.stdout, "cli.db.at", revision=catalogue.t("cli.db.base"))
    assert revision(env) is None
    with sqlite3.connect(db_file(env)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables <= {"alembic_version"}

    up = run(env, "db", "upgrade")
    assert up.exit_code == 0, up.output
    assert revision(env) == head
    again = run(env, "demo", "--at", AT, "--json")
    assert again.exit_code == 0, again.output


def test_a_failing_migration_exits_non_zero_and_changes_nothing(env: dict[str, str]) -> None:
    seeded(env)
    with sqlite3.connect(db_file(env)) as conn:  # a row whose person is gone, as a broken copy may have
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute(
            "INSERT INTO channel_identity (person_id, channel, external_id, chat_id, display_name, created_at) "
            "VALUES (9999, 'console', 'orphan', 'orphan', 'orphan', '2026-11-26 09:00:00')"
        )
    head = revision(env)
    failed = run(env, "db", "downgrade", "-1")
    assert failed.exit_code == 1
    assert "cli.db.failed" in keys_in(failed.stderr) and "channel_identity" in failed.stderr
    assert "Traceback" not in failed.output
    assert revision(env) == head  # one transaction: nothing was migrated
    bad = run(env, "db", "upgrade", "nope")
    assert bad.exit_code == 2 and "cli.db.bad_revision" in keys_in(bad.stderr)


def test_a_command_on_an_unmigrated_database_says_so(env: dict[str, str]) -> None:
    for args in (("alerts", "list"), ("outbox", "list"), ("reminders", "plan", "--date", "2026-11-26")):
        result = run(env, *args)
        assert result.exit_code == 2, (args, result.output)
        assert says(result.stderr, "cli.not_migrated") and "Traceback" not in result.output


def test_an_unforeseen_error_is_one_sentence_and_exit_1(env: dict[str, str], tmp_path: Path) -> None:
    seeded(env)
    with sqlite3.connect(db_file(env)) as conn:  # a table the command reads is broken
        conn.execute("DROP TABLE outbox_message")
        conn.execute("CREATE TABLE outbox_message (id INTEGER PRIMARY KEY)")
    result = run(env, "outbox", "list")
    assert result.exit_code == 1
    assert "cli.database_error" in keys_in(result.stderr) and "Traceback" not in result.output


# --- alerts: a resolution by hand sticks ------------------------------------------------------------


def alerts(env: dict[str, str], *args: str) -> list[dict[str, object]]:
    result = run(env, "alerts", "list", "--json", *args)
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout)["alerts"])


def test_alerts_resolve_then_evaluate_keeps_it_resolved(env: dict[str, str]) -> None:
    seeded(env)
    first = run(env, "alerts", "evaluate", "--at", AT, "--json")
    assert first.exit_code == 0, first.output
    [critical] = [a for a in alerts(env) if a["kind"] == "critical"]
    resolved = run(
        env, "alerts", "resolve", str(critical["id"]), "--as", "fasil-ambarawa",
        "--note", "Semen dipesan dari toko lain", "--at", "2026-11-26T17:00",
    )  # fmt: skip
    assert resolved.exit_code == 0, resolved.output
    assert says(resolved.stdout, "cli.alert.resolved", id=critical["id"], note="Semen dipesan dari toko lain")

    again = run(env, "alerts", "evaluate", "--at", LATER, "--json")
    doc = json.loads(again.stdout)
    assert doc["by_kind"]["critical"] == 1  # the finding is still true ...
    assert doc["alerts"]["opened"] == 0 and doc["alerts"]["held"] == 1  # ... and stays resolved
    same = [a for a in alerts(env, "--status", "all") if a["dedup_key"] == critical["dedup_key"]]
    assert [a["status"] for a in same] == [AlertStatus.RESOLVED.value]


# --- wording: the catalogue, app.language, local time -----------------------------------------------


def test_invite_names_the_scope_once_in_local_time(env: dict[str, str]) -> None:
    seeded(env)
    args = (
        "invite",
        "--role",
        "ketua_ksm",
        "--scope",
        "ksm:KSM-LDY-01",
        "--days",
        "5",
        "--at",
        "2026-03-02T08:00",
    )
    result = run(env, *args)
    assert result.exit_code == 0, result.output
    assert "KSM KSM" not in result.stdout and "UTC" not in result.stdout
    assert says(result.stdout, "cli.invite.created", role="ketua KSM", scope="KSM Lodoyong Resik")
    assert says(result.stdout, "cli.invite.expires", at="7 Maret 2026 pukul 08.00 WIB")

    english = run({**env, "KOTAKU_APP__LANGUAGE": "en"}, *args)
    assert says(
        english.stdout, "cli.invite.created", "en", role="KSM coordinator", scope="KSM Lodoyong Resik"
    )
    assert says(english.stdout, "cli.invite.expires", "en", at="March 7, 2026 at 08:00 WIB")
    machine = json.loads(run(env, *args, "--json").stdout)  # machines keep UTC
    assert datetime.fromisoformat(machine["expires_at"]) == datetime(2026, 3, 7, 1, 0, tzinfo=UTC)
    assert machine["scope"] == "KSM Lodoyong Resik"


def test_alerts_speak_the_configured_language(env: dict[str, str]) -> None:
    seeded(env)
    assert run(env, "alerts", "evaluate", "--at", AT).exit_code == 0
    listed = run(env, "alerts", "list")
    assert listed.exit_code == 0, listed.output
    assert "UTC" not in listed.stdout and "(WIB)" in listed.stdout
    assert catalogue.t("cli.alert.status.open") in listed.stdout
    assert catalogue.t("alert.kind.critical") in listed.stdout

    [critical] = [a for a in alerts(env) if a["kind"] == "critical"]
    refused = run(env, "alerts", "ack", str(critical["id"]), "--as", "ketua-tambakboyo")
    assert refused.exit_code == 1
    assert says(refused.stderr, "cli.alert.not_allowed", role="ketua KSM")
    assert "may not" not in refused.output
    ok = run(
        env, "alerts", "ack", str(critical["id"]), "--as", "fasil-ambarawa", "--note", "dicek", "--at", AT
    )
    assert ok.exit_code == 0 and says(ok.stdout, "cli.alert.acknowledged", id=critical["id"])
    assert "acknowledged" not in ok.stdout
    twice = run(env, "alerts", "ack", str(critical["id"]), "--as", "askot-semarang")
    assert twice.exit_code == 1
    assert says(
        twice.stderr,
        "cli.alert.already_acked",
        name="Wulan Puspitasari",
        at="26 November 2026 pukul 16.00 WIB",
    )

    english = run(
        {**env, "KOTAKU_APP__LANGUAGE": "en"},
        "alerts",
        "ack",
        str(critical["id"]),
        "--as",
        "ketua-tambakboyo",
    )
    assert says(english.stderr, "cli.alert.not_allowed", "en", role="KSM coordinator")


def test_reminder_kinds_are_named_for_people(env: dict[str, str]) -> None:
    seeded(env)
    planned = run(env, "reminders", "plan", "--date", "2026-11-26")
    assert planned.exit_code == 0, planned.output
    for kind in ("first", "second", "digest"):
        assert catalogue.t(f"cli.reminders.kind.{kind}") in planned.stdout
        assert not re.search(rf"\b{kind}\b", planned.stdout)
    sunday = run(env, "reminders", "plan", "--date", "2026-11-29")
    assert says(sunday.stdout, "cli.reminders.skipped", reason=catalogue.t("cli.reminders.skip.weekday"))


def test_outbox_json_gives_the_whole_text(env: dict[str, str]) -> None:
    seeded(env)
    long_text = "Pengingat: " + "laporan harian KSM Bejalen Maju belum masuk; " * 12
    with sqlite3.connect(db_file(env)) as conn:
        conn.execute(
            "INSERT INTO outbox_message (dedup_key, channel, recipient, person_id, kind, payload, priority, "
            "status, attempts, next_attempt_at, created_at) VALUES ('k1', 'console', 'fasil-ambarawa', NULL, "
            "'reminder', ?, 1, 'pending', 0, '2026-11-26 09:00:00', '2026-11-26 09:00:00')",
            (json.dumps({"text": long_text}),),
        )
    doc = json.loads(run(env, "outbox", "list", "--json").stdout)
    [message] = doc["messages"]
    assert len(long_text) > 200 and message["text"] == long_text
    human = run(env, "outbox", "list")
    assert catalogue.t(f"cli.outbox.status.{OutboxStatus.PENDING.value}") in human.stdout


def test_every_sentence_the_cli_names_is_in_the_catalogue() -> None:
    source = CLI_SOURCE.read_text(encoding="utf-8")
    literal = set(re.findall(r"""["'](cli\.[a-z_.]+[a-z_])["']""", source))
    assert len(literal) > 60
    families = {
        *(f"cli.alert.status.{s.value}" for s in AlertStatus),
        *(f"cli.outbox.status.{s.value}" for s in OutboxStatus),
        *(f"cli.reminders.kind.{k}" for k in REMINDER_KINDS),
    }
    missing = sorted(k for k in literal | families if not catalogue.has(k))
    assert missing == []


# --- README's `make run` tells the truth ------------------------------------------------------------


def make_run_block() -> list[str]:
    readme = (CLI_SOURCE.parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("```text\n$ make run\n", 1)[1].split("```", 1)[0]
    return block.splitlines()


def test_readme_make_run_matches_what_the_demo_prints(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").exit_code == 0
    printed = run(env, "demo", "--if-empty", "--at", AT)
    assert printed.exit_code == 0, printed.output
    # The people are listed once, by the picker of `kotaku run`; the demo summary does not list them too.
    assert "fasil-ambarawa" not in printed.stdout and "pmu-nasional" not in printed.stdout
    lines = make_run_block()
    demo_part = lines[
        lines.index(".venv/bin/kotaku demo --if-empty") + 1 : lines.index(".venv/bin/kotaku run")
    ]
    shown = [line for line in demo_part if "…" not in line]
    assert shown, demo_part
    for line in shown:
        assert line in printed.stdout, line
    assert sum(catalogue.t("run.people.title") in line for line in lines) == 1
    again = run(env, "demo", "--if-empty", "--at", AT)
    assert again.exit_code == 0 and says(again.stdout, "cli.demo.kept")
