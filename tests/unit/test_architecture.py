"""The core stays channel-free: `kotaku` never imports `telegram`, `pywa` or `bot`."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = "kotaku core never imports a channel"
FORBIDDEN = {"telegram", "pywa", "bot"}


def _lint_imports_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "lint-imports"
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("lint-imports")
    if found is None:
        pytest.skip("import-linter is not installed")
    return [found]


def test_import_linter_contract_kept() -> None:
    proc = subprocess.run(
        [*_lint_imports_cmd(), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert f"{CONTRACT} KEPT" in output
    assert "BROKEN" not in output


def _imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (getattr(node.func, "attr", None) or getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def test_no_core_module_imports_a_channel() -> None:
    files = sorted((ROOT / "kotaku").rglob("*.py"))
    assert len(files) > 10  # the walk really found the package
    offenders = {}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        bad = _imported_roots(tree) & FORBIDDEN
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_the_ast_check_detects_forbidden_imports() -> None:
    samples = {
        "import telegram": {"telegram"},
        "from telegram.ext import Application": {"telegram"},
        "import pywa.types as t": {"pywa"},
        "from bot.testing import x": {"bot"},
        "import importlib\nimportlib.import_module('bot.web')": {"importlib", "bot"},
        "from . import bot": set(),  # relative: kotaku's own module named bot would be fine
    }
    for source, expected in samples.items():
        assert _imported_roots(ast.parse(source)) & (FORBIDDEN | {"importlib"}) == expected, source
