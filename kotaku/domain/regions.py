"""Kemendagri region codes and materialised paths: which region lies inside which, without the database.

A region's code extends its parent's with a dot (`33` < `33.22` < `33.22.10` < `33.22.10.1001`); its path
is the codes from the province down, joined by a slash (`33/33.22/33.22.10/33.22.10.1001`).
"""

from __future__ import annotations

PATH_SEP = "/"
CODE_SEP = "."


def child_path(parent_path: str | None, code: str) -> str:
    """The path of a region with this code under a parent (a province, without parent, is its code)."""
    return f"{parent_path}{PATH_SEP}{code}" if parent_path else code


def within(inner: str, outer: str, sep: str = PATH_SEP) -> bool:
    """The region at path `inner` is the one at `outer` or lies below it (codes: `sep=CODE_SEP`)."""
    return inner == outer or inner.startswith(outer + sep)


def path_codes(path: str) -> list[str]:
    """The codes of every region on a path, province first, the region itself last."""
    return path.split(PATH_SEP)


def path_prefixes(path: str) -> list[str]:
    """The paths of every region on a path, province first, the region's own path last."""
    codes = path_codes(path)
    return [PATH_SEP.join(codes[: i + 1]) for i in range(len(codes))]
