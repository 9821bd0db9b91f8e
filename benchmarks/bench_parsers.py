"""How long the slowest input of a message's length takes each reader of what people type: a search for
the worst case, its CPU time, and the limit of 50 ms.

Every reader the chat and the importer use on typed text (counts, names, the checklist selection, the
one-message report and its keyword suggestion, `/progres` amounts, numbers, Rupiah, dates, NIK, phone,
the importer's cell values) is given, in this order:

1. the inputs the security review found slow or crashing (issue 12: `/progres ` + 4,095 ones + `!`, a
   count of 4,000 Arabic-Indic digits, 2,048 comma-separated names, ...) and their mutations;
2. `--examples` inputs of the fuzz suite's strategies (`tests/fuzz/strategies.py`: vocabulary with
   figures, any text, prefix + piece × n + suffix up to 4,096 characters), with Hypothesis steering the
   search toward the slowest (`hypothesis.target` on the CPU time of each input).

Every input is at most 4,096 characters (the channels' limit). The slowest input found is then read
`--repeat` times: min and median of its CPU time (`time.process_time`, this process only, so a loaded
machine matters little), printed with the input (shortened) against `LIMIT_MS`. An exception other than
the reader's documented one is reported as well. The process exits 1 when a reader's minimum is over the
limit or one raised, else 0.

    .venv/bin/kotaku bench parsers [--examples 300] [--repeat 5] [--only parse_count] [--json]
    .venv/bin/python benchmarks/bench_parsers.py --examples 2000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: benchmarks/ is on the path, the checkout is not
    sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, settings, target  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kotaku.dialog.quick import (  # noqa: E402
    CountError,
    TooManyNames,
    match_names,
    parse_count,
    parse_day,
    parse_roster_selection,
    parse_rupiah,
    parse_wages,
)
from kotaku.dialog.quick_report import split_report, suggest_keyword  # noqa: E402
from kotaku.i18n import MAX_INPUT_CHARS, parse_number  # noqa: E402
from kotaku.importer import values as cell  # noqa: E402
from kotaku.security import InvalidNik, InvalidPhone, normalize_nik, normalize_phone  # noqa: E402
from kotaku.services.progress import parse_amount, split_quick_form  # noqa: E402
from tests.fuzz.strategies import nik_like, phone_like, typed, variants  # noqa: E402

LIMIT_MS = 50.0  # the limit for any input of a message's length
TODAY = date(2026, 11, 26)
ROSTER = [f"{first} {last}" for first in ("Budi", "Sari", "Agus", "Joko", "Dewi") for last in (
    "Santoso", "Wulandari", "Hartono", "Salim", "Astuti", "Prasetyo", "Lestari", "Riyadi")]  # fmt: skip
PAIRS = list(enumerate(ROSTER))
DOCUMENTED = (CountError, TooManyNames, InvalidNik, InvalidPhone, cell.CellError)

# The inputs of the review (issue 12, findings 1 and 11) and the shapes around them.
CORPUS = [
    "1" * 4_095 + "!",
    "9" * MAX_INPUT_CHARS,
    "٩" * 4_000,
    "９" * 4_000,
    ",".join(chr(97 + i % 26) for i in range(2_048)),
    ", ".join(f"budi{i}" for i in range(600))[:MAX_INPUT_CHARS],
    "1" + " " * 4_000 + "x",
    "1" + "\n" * 4_000 + "x",
    "1." * 2_045 + "1 m\nx",
    "1," * 2_047 + "x",
    "upah " + "1" * 4_000 + "x",
    "hadir " + "1" * 4_000 + "x",
    "kendala " + "hadir x " * 500,
    "upahh " * 680,
    "progres " + "rabat 1 " * 500,
    "semua kecuali " + "1-2 " * 1_000,
    "Etc/GMT+" + "9" * 300,
    "+ " + "8" * 4_000,
    "3" * 4_000,
    "l1" * 2_048,
    "a " * 2_048,
]


def _count(text: str) -> object:
    return parse_count(text)


def _report(text: str) -> object:
    return split_report(text), suggest_keyword(text)


READERS: dict[str, Callable[[Any], object]] = {
    "parse_count": _count,
    "match_names": lambda text: match_names(text, PAIRS),
    "parse_roster_selection": lambda text: parse_roster_selection(text, ROSTER),
    "split_report": _report,
    "parse_amount": lambda text: parse_amount(text, "m", 163.0),
    "split_quick_form": split_quick_form,
    "parse_number": parse_number,
    "parse_rupiah": lambda text: (parse_rupiah(text), parse_wages(text)),
    "parse_day": lambda text: parse_day(text, TODAY),
    "normalize_nik": normalize_nik,
    "normalize_phone": normalize_phone,
    "import.to_date": cell.to_date,
    "import.to_time": cell.to_time,
    "import.to_number": cell.to_number,
    "import.to_integer": cell.to_integer,
    "import.timezone": cell.timezone,
    "import.nik": cell.nik,
    "import.phone": cell.phone,
}


def strategy_for(name: str) -> st.SearchStrategy[Any]:
    if name.endswith("nik"):
        return st.one_of(nik_like(), typed(4))
    if name.endswith("phone"):
        return st.one_of(phone_like(), typed(4))
    return typed(10)


@dataclass
class Worst:
    """The slowest input found for one reader, and what went wrong on the way."""

    text: Any = ""
    seconds: float = 0.0
    tried: int = 0
    raised: list[str] = field(default_factory=list)


def cpu(reader: Callable[[Any], object], value: Any, worst: Worst) -> float:
    """One read's CPU time; an undocumented exception is noted (with its input, shortened)."""
    start = time.process_time()
    try:
        reader(value)
    except DOCUMENTED:
        pass
    except Exception as exc:  # the benchmark reports it; the fuzz suite fails on it
        if len(worst.raised) < 5:
            worst.raised.append(f"{type(exc).__name__} on {shorten(value)}")
    spent = time.process_time() - start
    worst.tried += 1
    if spent > worst.seconds:
        worst.text, worst.seconds = value, spent
    return spent


def search(name: str, examples: int) -> Worst:
    """The corpus with its mutations, then `examples` inputs steered toward the slowest."""
    reader, worst = READERS[name], Worst()
    for text in CORPUS:
        for variant in variants(text):
            cpu(reader, variant[:MAX_INPUT_CHARS], worst)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.target],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy_for(name))
    def probe(value: Any) -> None:
        if isinstance(value, str):
            value = value[:MAX_INPUT_CHARS]
        target(cpu(reader, value, worst) * 1_000, label="cpu_ms")

    if examples > 0:
        probe()
    return worst


def shorten(value: Any, keep: int = 24) -> str:
    """An input as printable text: long ones as their start, the length and their end."""
    text = repr(value)
    if len(text) <= 2 * keep + 8:
        return text
    return f"{text[:keep]}…({len(value) if isinstance(value, str) else len(text)} chars)…{text[-keep // 2 :]}"


def measure(name: str, examples: int, repeat: int) -> dict[str, Any]:
    worst = search(name, examples)
    times = [cpu(READERS[name], worst.text, Worst()) * 1_000 for _ in range(repeat)]
    return {
        "reader": name,
        "inputs": worst.tried,
        "worst_input": shorten(worst.text),
        "worst_chars": len(worst.text) if isinstance(worst.text, str) else None,
        "found_ms": round(worst.seconds * 1_000, 3),
        "min_ms": round(min(times), 3),
        "median_ms": round(statistics.median(times), 3),
        "limit_ms": LIMIT_MS,
        "pass": min(times) <= LIMIT_MS and not worst.raised,
        "raised": worst.raised,
    }


def report(results: list[dict[str, Any]], say: Callable[[str], None] = print) -> None:
    say(
        f"   {'reader':<24} {'inputs':>7} {'min ms':>8} {'median ms':>10}  {'< 50 ms':<7} slowest input found"
    )
    for r in results:
        verdict = "pass" if r["pass"] else "FAIL"
        say(
            f"   {r['reader']:<24} {r['inputs']:>7,} {r['min_ms']:>8.3f} {r['median_ms']:>10.3f}  "
            f"{verdict:<7} {r['worst_input']}"
        )
        for line in r["raised"]:
            say(f"   {'':<24} raised {line}")
    worst = max(results, key=lambda r: r["min_ms"])
    say(
        f"   worst of all: {worst['reader']} {worst['min_ms']:.3f} ms (min of the repeats) on "
        f"{worst['worst_input']}; limit {LIMIT_MS:.0f} ms of CPU for any input up to {MAX_INPUT_CHARS:,} chars"
    )


def run(
    examples: int = 300, repeat: int = 5, only: list[str] | None = None, quiet: bool = False
) -> dict[str, Any]:
    """Every reader (or those in `only`): the slowest input found, its CPU time, pass or fail."""
    if examples < 0 or repeat < 1:
        raise ValueError("--examples must be at least 0 and --repeat at least 1")
    names = only or list(READERS)
    unknown = [n for n in names if n not in READERS]
    if unknown:
        raise ValueError(f"unknown reader(s): {', '.join(unknown)}; known: {', '.join(READERS)}")
    say: Callable[[str], None] = (lambda line: None) if quiet else print
    say(f"searching the slowest input of {len(names)} readers ({examples} steered examples each) ...")
    results = [measure(name, examples, repeat) for name in names]
    report(results, say)
    return {"limit_ms": LIMIT_MS, "max_chars": MAX_INPUT_CHARS, "readers": results,
            "pass": all(r["pass"] for r in results)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=300, help="steered examples per reader")
    ap.add_argument("--repeat", type=int, default=5, help="reads of the slowest input (min, median)")
    ap.add_argument("--only", action="append", help="a reader's name (repeatable)")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = ap.parse_args()
    result = run(args.examples, args.repeat, args.only, quiet=args.json)
    if args.json:
        print(json.dumps(result))
    sys.exit(0 if result["pass"] else 1)


if __name__ == "__main__":
    main()
