"""`kotaku bench parsers` at a tiny size: every reader named is searched (the review's inputs, their
mutations, steered examples), the slowest input found is reported with its CPU time min/median against
the limit, and unknown readers are refused. Timings are never asserted here."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from benchmarks import bench_parsers
from bot.main import app
from kotaku.i18n import MAX_INPUT_CHARS
from tests.fuzz.strategies import VARIANTS

READERS = ["parse_count", "split_quick_form", "import.timezone"]


def test_bench_parsers_reports_the_slowest_input_of_each_reader() -> None:
    args = ["bench", "parsers", "--examples", "5", "--repeat", "2", "--json"]
    result = CliRunner().invoke(app, [*args, *(a for name in READERS for a in ("--only", name))])
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(result.stdout)
    assert doc["limit_ms"] == bench_parsers.LIMIT_MS == 50 and doc["max_chars"] == MAX_INPUT_CHARS
    assert [r["reader"] for r in doc["readers"]] == READERS
    for r in doc["readers"]:
        assert r["inputs"] >= len(bench_parsers.CORPUS) * VARIANTS + 1
        assert r["worst_input"] and 0 <= r["min_ms"] <= r["median_ms"]
        assert r["pass"] == (r["min_ms"] <= r["limit_ms"] and not r["raised"])
    assert doc["pass"] == all(r["pass"] for r in doc["readers"])
    assert result.exit_code == (0 if doc["pass"] else 1)


def test_the_corpus_holds_the_reviews_inputs_within_a_message() -> None:
    assert "1" * 4_095 + "!" in bench_parsers.CORPUS  # `/progres ` + 4,095 ones + `!`
    assert ",".join(chr(97 + i % 26) for i in range(2_048)) in bench_parsers.CORPUS  # 2,048 names
    assert all(len(text) <= MAX_INPUT_CHARS for text in bench_parsers.CORPUS)
    assert set(bench_parsers.READERS) >= {"parse_count", "match_names", "split_report", "normalize_nik"}


def test_an_unknown_reader_is_refused() -> None:
    result = CliRunner().invoke(app, ["bench", "parsers", "--only", "parse_everything"])
    assert result.exit_code == 2 and "parse_everything" in result.output
