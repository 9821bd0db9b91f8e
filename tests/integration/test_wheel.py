"""The wheel: built from the source tree, installed into a fresh venv, run from a folder that is not the repo.

No network: the wheel is built with the setuptools already installed (--no-build-isolation), installed
with --no-deps, and the fresh venv sees this interpreter's installed dependencies through a .pth file.
That .pth line only adds the folder to sys.path (its own .pth files, such as the editable install's
finder, are not run), so `kotaku` and `bot` are the wheel's copies: the test asserts it.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What the build reads; copied so that setuptools' build/ and *.egg-info never land in the checkout.
SOURCES = ("pyproject.toml", "README.md", "kotaku", "bot", "migrations")


@dataclass
class Installed:
    venv: Path
    wheel: Path
    cwd: Path
    env: dict[str, str]

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / "kotaku"), *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=self.cwd,
            env=self.env,
            timeout=60,
        )


def _check(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    src, dist, venv, cwd = base / "src", base / "dist", base / "venv", base / "elsewhere"
    src.mkdir()
    cwd.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=skip)
        else:
            shutil.copy2(REPO / name, src / name)

    setuptools = tuple(int(part) for part in version("setuptools").split(".")[:2])
    assert setuptools >= (70, 1), (
        "setuptools too old to build offline: run `make install` (requirements/lock.txt)"
    )
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    _check(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(dist), str(src)]
    )
    (wheel,) = dist.glob("kotaku-*.whl")

    _check([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    vpy = venv / "bin" / "python"
    _check([*pip, "--python", str(vpy), "install", "--no-deps", "--no-index", "-q", str(wheel)])
    purelib = subprocess.run(
        [str(vpy), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    outer = dict.fromkeys(
        [*site.getsitepackages(), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    )
    (Path(purelib) / "_kotaku_test_outer_site.pth").write_text(
        "".join(f"{p}\n" for p in outer if p != purelib)
    )

    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOTAKU_", "PYTHON", "VIRTUAL_ENV"))}
    env |= {
        "KOTAKU_DATABASE__URL": f"sqlite+aiosqlite:///{base / 'kotaku.db'}",
        "KOTAKU_APP__DATA_DIR": str(base / "var"),
        "KOTAKU_MEDIA__DIR": str(base / "media"),
        "COLUMNS": "200",
    }
    return Installed(venv=venv, wheel=wheel, cwd=cwd, env=env)


def test_pyproject_lists_every_package() -> None:
    """No wheel needed: a folder of .py files under kotaku/ or bot/ missing from the explicit list."""
    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["packages"]
    )
    on_disk = {
        ".".join(p.parent.relative_to(REPO).parts)
        for top in ("kotaku", "bot")
        for p in (REPO / top).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    missing = sorted(on_disk - listed)
    assert missing == [], f"add {missing} to [tool.setuptools] packages in pyproject.toml"
    assert {"kotaku._migrations", "kotaku._migrations.versions"} <= listed


def test_wheel_ships_every_module_catalogue_and_migration(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    expected = {
        str(p.relative_to(REPO))
        for top in ("kotaku", "bot")
        for p in (REPO / top).rglob("*")
        if p.suffix in {".py", ".toml", ".typed"} and "__pycache__" not in p.parts
    }
    scripts = REPO / "migrations"
    expected |= {
        "kotaku/_migrations/" + str(p.relative_to(scripts))
        for p in [scripts / "env.py", scripts / "script.py.mako", *scripts.glob("versions/*.py")]
    }
    assert "kotaku/catalogue/console.toml" in expected
    assert sorted(expected - names) == [], "add the missing package to [tool.setuptools] packages"
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "migrations/"))]


def test_installed_wheel_is_the_one_imported(installed: Installed) -> None:
    code = (
        "import bot, kotaku, kotaku.migrate as m; print(kotaku.__file__, bot.__file__, m.script_location())"
    )
    proc = subprocess.run(
        [str(installed.venv / "bin" / "python"), "-c", code],
        capture_output=True, text=True, cwd=installed.cwd, env=installed.env, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    paths = [Path(p) for p in proc.stdout.split()]
    assert all(p.is_relative_to(installed.venv) for p in paths), paths
    assert paths[2].name == "_migrations"


def test_db_upgrade_demo_and_chat_from_the_wheel(installed: Installed) -> None:
    result = installed.run("db", "upgrade")
    assert result.returncode == 0, result.stderr
    current = installed.run("db", "current", "--json")
    assert current.returncode == 0, current.stderr
    state = json.loads(current.stdout)
    assert state["up_to_date"] is True and state["head"] and state["head"] in result.stdout

    result = installed.run("demo")
    assert result.returncode == 0, result.stderr

    result = installed.run("chat", "--list", "--json")
    assert result.returncode == 0, result.stderr
    people = {p["code"]: p for p in json.loads(result.stdout)}
    assert people["ketua-bejalen"]["role"] == "ketua_ksm"

    result = installed.run("chat", "--as", "ketua-bejalen", stdin="/bantuan\n")
    assert result.returncode == 0, result.stderr
    assert "Konsol KOTAKU" in result.stdout  # the message catalogue came with the wheel
    assert people["ketua-bejalen"]["name"] in result.stdout
    assert "/hadir" in result.stdout  # /bantuan lists the commands


def test_bench_says_it_needs_a_source_checkout(installed: Installed) -> None:
    result = installed.run("bench", "telegram", "--updates", "1")
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "checkout sumber" in message and "source checkout" in message
    assert message.index("checkout sumber") < message.index("source checkout")  # Indonesian first
