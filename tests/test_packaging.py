"""Packaging: where contracts and cassettes come from, ``--version``, and the optional extras.

The full wheel check (build, install into a fresh venv, run ``check`` from elsewhere) is slow
and lives in ``.ci/wheel-check``; here are the rules it relies on, checked in process.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from _support import one_error_line

import heygen_lab
from heygen_lab import _packaged
from heygen_lab._extras import EXTRAS, MissingExtra, missing_extra, require
from heygen_lab.cli import main

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PREFIX = "heygen-lab: error:"
INSTALL_HINT = "pip install 'heygen-lab[emulator]'"


@pytest.fixture(autouse=True)
def no_live_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HEYGEN_API_KEY", "HEYGEN_API_BASE", "HEYGEN_UPLOAD_BASE"):
        monkeypatch.delenv(name, raising=False)




# ---------------------------------------------------------------- where the data comes from
@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Three candidate places, none holding anything yet: an empty current directory, a
    checkout (``pyproject.toml`` beside the package) and an installed wheel's package data."""
    cwd, checkout, data = tmp_path / "cwd", tmp_path / "checkout", tmp_path / "site" / "_data"
    for d in (cwd, checkout, data):
        d.mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'heygen-lab'\n")
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(_packaged, "_CHECKOUT", checkout)
    monkeypatch.setattr(_packaged, "_data_root", lambda: data)
    return {"cwd": cwd, "checkout": checkout, "data": data}


@pytest.mark.parametrize("name", ["contracts", "cassettes"])
def test_resolution_order_cwd_then_checkout_then_packaged(layout: dict[str, Path],
                                                          name: str) -> None:
    # nothing anywhere: ./name, so that the caller's "no such directory" names it
    assert _packaged.default_dir(name) == layout["cwd"] / name
    (layout["data"] / name).mkdir()
    assert _packaged.default_dir(name) == layout["data"] / name
    (layout["checkout"] / name).mkdir()
    assert _packaged.default_dir(name) == layout["checkout"] / name
    (layout["cwd"] / name).mkdir()
    assert _packaged.default_dir(name) == layout["cwd"] / name


def test_a_directory_without_pyproject_is_no_checkout(layout: dict[str, Path]) -> None:
    """An installed wheel's package sits in site-packages: its parent is no checkout, even if
    some other project left a ``contracts`` directory there."""
    (layout["checkout"] / "pyproject.toml").unlink()
    (layout["checkout"] / "contracts").mkdir()
    (layout["data"] / "contracts").mkdir()
    assert _packaged.checkout_dir("contracts") is None
    assert _packaged.default_dir("contracts") == layout["data"] / "contracts"


def test_default_dir_refuses_other_names() -> None:
    with pytest.raises(ValueError, match="contracts"):
        _packaged.default_dir("../etc")


def test_the_contracts_package_resolves_the_same_way(layout: dict[str, Path]) -> None:
    from heygen_lab.contracts import default_dir

    (layout["data"] / "cassettes").mkdir()
    assert default_dir("cassettes") == layout["data"] / "cassettes"


def test_from_this_checkout_anywhere_the_repository_directories_are_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _packaged.default_dir("contracts") == ROOT / "contracts"
    assert _packaged.default_dir("cassettes") == ROOT / "cassettes"


def test_explicit_directories_win(layout: dict[str, Path], capsys: pytest.CaptureFixture[str],
                                  tmp_path: Path) -> None:
    """``--contracts``/``--cassettes`` beat ``./contracts`` and every default."""
    for name in ("contracts", "cassettes"):
        (layout["cwd"] / name).mkdir()  # would be the default: must not be read
    mine = tmp_path / "mine"
    (mine / "cassettes").mkdir(parents=True)
    (mine / "contracts").mkdir()
    code = main(["cassettes", "lint", "--contracts", str(mine / "contracts"),
                 "--cassettes", str(mine / "cassettes")])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.strip() == "0 finding(s) in 0 case(s)"
    code = main(["check", "--mode", "replay", "--contracts", str(ROOT / "contracts"),
                 "--cassettes", str(mine / "cassettes"), "--only", "upload-v3/ok-jpeg"])
    out, _ = capsys.readouterr()
    assert f"cassettes in {mine / 'cassettes'}" in out


def test_is_packaged(layout: dict[str, Path]) -> None:
    (layout["data"] / "cassettes" / "upload-v3").mkdir(parents=True)
    assert _packaged.is_packaged(layout["data"] / "cassettes")
    assert _packaged.is_packaged(layout["data"] / "cassettes" / "upload-v3")
    assert not _packaged.is_packaged(layout["checkout"])
    assert not _packaged.is_packaged(ROOT / "cassettes")


def test_recording_into_the_packaged_cassettes_is_refused(
        layout: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    packaged = layout["data"] / "cassettes"
    packaged.mkdir()
    code = main(["record", "--contracts", str(ROOT / "contracts"), "--only", "upload-v3/ok-jpeg"])
    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert str(packaged) in line and "--cassettes DIR" in line and "site-packages" in line
    assert list(packaged.iterdir()) == [], "nothing was written"
    # ... and named explicitly, too
    code = main(["record", "--cassettes", str(packaged), "--only", "upload-v3/ok-jpeg"])
    assert code == 1 and "--cassettes DIR" in one_error_line(capsys.readouterr().err)


# ---------------------------------------------------------------- --version
def test_version_flag_prints_the_single_source(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"heygen-lab {heygen_lab.__version__}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", heygen_lab.__version__)


def test_pyproject_takes_the_version_from_the_package() -> None:
    assert "version" not in PYPROJECT["project"]
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "heygen_lab/__init__.py"
    assert importlib.metadata.version("heygen-lab") == heygen_lab.__version__


def test_the_wheel_carries_contracts_and_cassettes() -> None:
    wheel = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["force-include"] == {"contracts": f"heygen_lab/{_packaged.DATA}/contracts",
                                      "cassettes": f"heygen_lab/{_packaged.DATA}/cassettes"}


# ---------------------------------------------------------------- extras
def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name.partition(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.partition(".")[0])
    return found


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


#: Module imported -> the distribution that provides it.
DISTRIBUTIONS = {"requests": "requests", "requests_toolbelt": "requests-toolbelt",
                 "urllib3": "urllib3", "jsonschema": "jsonschema", "tqdm": "tqdm",
                 "werkzeug": "werkzeug", "yaml": "pyyaml", "vcr": "vcrpy",
                 "ipywidgets": "ipywidgets"}
#: Imported only when the caller brought them: the pytest plugin runs inside pytest, the
#: %heygen_emulate magic inside IPython, emulate() patches httpx only where it is installed.
BROUGHT_BY_CALLER = {"pytest", "IPython", "httpx", "anyio", "_typeshed"}


def test_every_third_party_import_is_declared_where_it_belongs() -> None:
    modules = set().union(*(_imports(p) for p in (ROOT / "heygen_lab").rglob("*.py")))
    third_party = modules - set(sys.stdlib_module_names) - {"heygen_lab", "__future__"}
    assert third_party - BROUGHT_BY_CALLER == set(DISTRIBUTIONS), "a new import: declare it"
    core = _names(PYPROJECT["project"]["dependencies"])
    extras = PYPROJECT["project"]["optional-dependencies"]
    for module, distribution in DISTRIBUTIONS.items():
        extra = next((e for e, mods in EXTRAS.items() if module in mods), None)
        if extra is None:
            assert distribution in core, f"{module}: core needs {distribution}"
        else:
            assert distribution in _names(extras[extra]), f"{module}: [{extra}] lacks it"
            assert distribution not in core, f"{distribution} belongs to [{extra}], not core"
    assert "heygen-lab" in _names(extras["notebook"]), "the widgets run the emulator"
    assert "heygen-lab" in _names(extras["dev"]), "-e '.[dev]' must install everything"


@pytest.mark.parametrize("argv", [["check", "--mode", "emulator"], ["check", "--mode", "replay"],
                                  ["record"], ["cassettes", "lint"], ["serve"]])
def test_a_missing_extra_fails_with_one_line_naming_it(
        argv: list[str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "werkzeug", None)  # as if werkzeug were not installed
    code = main(argv)
    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line == (f"{PREFIX} heygen-lab {argv[0]} needs the 'emulator' extra (werkzeug is "
                    f"not installed): {INSTALL_HINT}")


def test_missing_extra_names_the_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(MissingExtra, match=r"PyYAML is not installed") as raised:
        require("emulator", "the contract tester")
    assert isinstance(raised.value, ImportError), "code guarding an import still works"


def test_only_an_extras_module_is_reported_as_a_missing_extra() -> None:
    found = missing_extra(ModuleNotFoundError("no", name="vcr.request"), "x")
    assert found is not None and found.extra == "emulator" and found.name == "vcr"
    assert missing_extra(ModuleNotFoundError("no", name="requests"), "x") is None
    assert missing_extra(ModuleNotFoundError("no", name=None), "x") is None


@pytest.mark.parametrize(("statement", "extra", "module"), [
    ("from heygen_lab.widgets import UploadWidget", "notebook", "ipywidgets"),
    ("from heygen_lab.cassettes import make_vcr", "emulator", "vcr"),
])
def test_a_lazily_loaded_name_says_which_extra_it_needs(statement: str, extra: str,
                                                        module: str) -> None:
    code = f"import sys; sys.modules[{module!r}] = None\n{statement}"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(("ImportError: heygen_lab.", "heygen_lab._extras.MissingExtra: "))
    assert f"pip install 'heygen-lab[{extra}]'" in last


CORE_ONLY = """
import sys
for name in ("werkzeug", "yaml", "vcr", "ipywidgets"):
    sys.modules[name] = None  # the core install: none of the extras
from heygen_lab import HeyGenClient, diagnose
import heygen_lab.cli
from heygen_lab.cli import main
assert main(["diagnose", '{"code": 400112, "message": "Unauthorized"}', "--status", "401"]) == 0
print("upload:", main(["upload", sys.argv[1], "--target", "emulator", "--quiet"]))
try:
    from heygen_lab import Emulator
except ImportError as exc:
    print("import:", exc)
"""


def test_the_client_and_its_commands_need_no_extra(media_dir: Path) -> None:
    """A fresh interpreter (nothing cached): the client and ``diagnose`` work without the
    extras; ``upload`` to the emulator, and ``heygen_lab.Emulator``, name the extra."""
    done = subprocess.run([sys.executable, "-c", CORE_ONLY, str(media_dir / "tiny.jpg")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    missing = r"needs the 'emulator' extra \((werkzeug|PyYAML|vcrpy) is not installed\): "
    [line] = done.stderr.splitlines()
    assert re.fullmatch(f"{PREFIX} heygen-lab upload {missing}{re.escape(INSTALL_HINT)}", line)
    assert "upload: 1" in done.stdout
    assert re.search(f"import: heygen_lab.Emulator {missing}{re.escape(INSTALL_HINT)}",
                     done.stdout)
