"""One module per flow; importing them registers their commands and sentences."""

from __future__ import annotations

import importlib
import pkgutil


def load_flows() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
