"""The committed walkthrough notebooks: run in order, with outputs, and nothing private in them.

``pytest --nbval`` re-runs the notebooks and compares outputs; this file checks what is
committed: no key (the environment's, the emulator's, or any ``X-Api-Key``/``Bearer`` value), no
machine paths (home, temp, checkout directories), every code cell run once in order and showing
something, and the widgets saved with their state (as JupyterLab's "Save Widget State
Automatically" does), so that a notebook opened without running shows them. nbval skips the
``application/vnd.jupyter.widget-view+json`` part of an output (model ids change per run) and
compares its text form, the widget's repr.

Re-execute a notebook with::

    jupyter nbconvert --to notebook --execute --inplace \\
        --ExecutePreprocessor.store_widget_state=True \\
        --ExecutePreprocessor.record_timing=False notebooks/NAME.ipynb
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

from heygen_lab.cassettes import scan_for_secrets
from heygen_lab.emulator import DEMO_KEY

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = ("01_upload_and_diagnose.ipynb", "02_check_a_plan.ipynb", "03_replay_offline.ipynb")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MODEL_REF = re.compile(r"IPY_MODEL_([0-9a-f]{32})")

# An absolute path under a machine directory, not a URL path ("https://h/home" is fine).
MACHINE_PATH = re.compile(
    r"(?<![\w.:/-])(?:/(?:work|tmp|root|home|Users|var/folders|private/var|opt|usr|mnt)(?=[/\"'\s])"
    r"|[A-Za-z]:\\\\(?:Users|Windows|Temp)|~/)"
)
KEY_VALUES = re.compile(r"(?i)(x-api-key\"?\s*[:=]\s*\"?(?!\[redacted\]|\*\*\*)[\w-]{8,}"
                        r"|bearer\s+(?!\[redacted\]|\*\*\*)[\w.-]{8,})")


def _load(name: str) -> tuple[str, dict[str, Any]]:
    path = NOTEBOOKS / name
    if not path.is_file():
        pytest.fail(f"notebooks/{name} is missing")
    text = path.read_text(encoding="utf-8")
    return text, json.loads(text)


def _code_cells(nb: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_the_walkthrough_notebooks_are_all_there() -> None:
    found = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert found == sorted(EXPECTED)
    assert (NOTEBOOKS / "nbval_sanitize.cfg").is_file()


@pytest.mark.parametrize("name", EXPECTED)
def test_no_machine_paths(name: str) -> None:
    text, _ = _load(name)
    hits = sorted({m.group(0) for m in MACHINE_PATH.finditer(text)})
    assert hits == [], f"{name} holds machine paths: {hits}"
    here = {str(ROOT), str(Path.home()), os.path.realpath(tempfile.gettempdir()),
            tempfile.gettempdir()}
    for value in sorted(v for v in here if len(v) > 1):
        assert value not in text and json.dumps(value)[1:-1] not in text, (
            f"{name} holds {value!r}")


@pytest.mark.parametrize("name", EXPECTED)
def test_no_key(name: str) -> None:
    text, _ = _load(name)
    keys = [k for k in (os.environ.get("HEYGEN_API_KEY"), DEMO_KEY) if k]
    assert scan_for_secrets(text, keys) == [], f"{name} holds an API key"
    assert KEY_VALUES.findall(text) == [], f"{name} holds something that looks like a key"


@pytest.mark.parametrize("name", EXPECTED)
def test_every_code_cell_ran_once_in_order_and_shows_something(name: str) -> None:
    _, nb = _load(name)
    cells = _code_cells(nb)
    assert cells, f"{name} has no code"
    counts = [c.get("execution_count") for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{name}: execution counts {counts}; re-run the whole notebook top to bottom")
    for i, cell in enumerate(cells, 1):
        outputs = cell.get("outputs") or []
        assert outputs, f"{name}: code cell {i} has no output"
        for out in outputs:
            assert out["output_type"] != "error", f"{name}: code cell {i} raised"
            assert not (out["output_type"] == "stream" and out.get("name") == "stderr"), (
                f"{name}: code cell {i} wrote to stderr: {out.get('text')!r}")


def _views(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [out["data"] for out in outputs if WIDGET_VIEW in (out.get("data") or {})]


@pytest.mark.parametrize("name", EXPECTED)
def test_widgets_are_saved_with_their_state(name: str) -> None:
    """Every widget shown (in a cell, or inside another widget's Output) has its model saved,
    every model a saved model refers to is saved too, and no key field holds a value."""
    _, nb = _load(name)
    saved = (nb["metadata"].get("widgets") or {}).get(WIDGET_STATE)
    assert saved, f"{name} holds no widget state: opened without running it shows only text"
    assert (saved["version_major"], saved["version_minor"]) == (2, 0)
    state: dict[str, Any] = saved["state"]
    shown = [view for cell in _code_cells(nb) for view in _views(cell["outputs"])]
    assert shown, f"{name} shows no widget"
    for view in shown:
        assert "".join(view["text/plain"]).split("(", 1)[0] in {
            "UploadWidget", "PlanCheckWidget", "CassetteBrowser"}, "compared by nbval: a repr"
    inner = [view for model in state.values()
             for view in _views(model["state"].get("outputs") or [])]
    for view in shown + inner:
        assert view[WIDGET_VIEW]["model_id"] in state, f"{name}: a shown widget was not saved"
    refs = set(MODEL_REF.findall(json.dumps(state)))
    assert refs <= set(state), f"{name}: saved models refer to unsaved ones"
    for model_id, model in state.items():
        if model["model_name"] == "PasswordModel":
            assert model["state"].get("value", "") == "", f"{name}: key field {model_id} kept"


@pytest.mark.parametrize("name", EXPECTED)
def test_no_timings(name: str) -> None:
    _, nb = _load(name)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    timed = [i for i, c in enumerate(nb["cells"]) if "execution" in c.get("metadata", {})]
    assert timed == [], f"{name}: cells {timed} carry timings; execute with record_timing=False"
