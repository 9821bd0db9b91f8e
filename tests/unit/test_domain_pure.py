"""`kotaku.domain` stays pure: the standard library, a few pure libraries and `kotaku.models.enums` only
(no database, settings or I/O; the import-linter layers keep everything else in order)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What a domain module may import besides the standard library.
ALLOWED_THIRD_PARTY = {"holidays", "imagehash", "PIL"}
ALLOWED_KOTAKU = {"kotaku.domain", "kotaku.models.enums"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(("." * node.level) + node.module)
    return found


def _allowed(module: str) -> bool:
    if module.startswith("."):
        return False
    root = module.split(".")[0]
    if root == "kotaku":
        return any(module == ok or module.startswith(ok + ".") for ok in ALLOWED_KOTAKU)
    return root in ALLOWED_THIRD_PARTY or root in sys.stdlib_module_names


def test_domain_modules_import_only_pure_things() -> None:
    files = sorted((ROOT / "kotaku" / "domain").glob("*.py"))
    assert len(files) >= 5
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in _imports(p) if not _allowed(m)) for p in files}
    assert {k: v for k, v in offenders.items() if v} == {}
