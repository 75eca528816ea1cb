"""The walkthrough notebooks and their widgets in JupyterLab, in headless Chromium.

One JupyterLab server (a subprocess on 127.0.0.1, in temporary Jupyter and IPython dirs, serving
a temporary copy of ``notebooks/`` beside copies of ``contracts/`` and ``cassettes/``), one browser
and one JupyterLab page serve the module (the suite keeps the module on one worker). Each test
opens a notebook in that page as the file browser does, checks that the saved widget state shows
the widget before anything runs, runs all cells, then works the widget with clicks as a person
would, and closes the notebook with its kernel.
Everything waits for a selector or a state, never for a fixed time. On failure a screenshot goes to
the test's ``tmp_path``.

Skipped, with the reason, when ``/usr/bin/chromium``, Playwright or JupyterLab is missing
(``.ci/run`` installs Debian's Chromium; ``playwright install`` is never called). Deselect with
``-m "not browser"``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from heygen_lab._signals import sigterm_unwinds

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TOKEN = "heygen-lab-browser-test"
SECRET = "sk-browser-test-0123456789abcdef"
START_TIMEOUT = 60.0
KERNEL_IDLE = """(path) => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
    && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle' && (!path || panel.context.path === path);
}"""
ALL_RAN = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  return cells.length > 0 && cells.every(c => c.model.executionCount !== null
    && !c.node.querySelector('.jp-InputPrompt').textContent.includes('*'));
}"""


def _missing() -> str | None:
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing (Debian's chromium package; .ci/run installs it)"
    for module, extra in (("playwright", "playwright"), ("jupyterlab", "jupyterlab")):
        if importlib.util.find_spec(module) is None:
            return f"the {extra} package is missing: pip install -e '.[dev]'"
    return None


@dataclass
class Lab:
    """A running JupyterLab: its URL, its notebook folder, its temporary home."""

    url: str
    notebooks: Path
    tmp: Path

    def open(self, page: Any, name: str) -> None:
        """Open a notebook as a double click in the file browser does; wait for its kernel."""
        page.evaluate("(path) => window.jupyterapp.commands.execute('docmanager:open', {path})"
                      ".then(() => true)", name)
        page.wait_for_function(KERNEL_IDLE, arg=name, timeout=START_TIMEOUT * 1000)

    def run_all(self, page: Any) -> None:
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_function(ALL_RAN, timeout=90_000)
        page.wait_for_function(KERNEL_IDLE, arg=None, timeout=60_000)
        errors = page.locator(".jp-OutputArea-output[data-mime-type="
                              "'application/vnd.jupyter.stderr'], .jp-RenderedText[data-mime-type"
                              "='application/vnd.jupyter.error']")
        assert errors.count() == 0, errors.all_inner_texts()

    def close(self, page: Any) -> None:
        """Close the notebook, shutting its kernel down as "Close and Shut Down" does (the
        shutdown is asked for, not waited on: the server stops any kernel left at the end)."""
        page.evaluate("""() => {
          const panel = window.jupyterapp.shell.currentWidget;
          if (panel && panel.sessionContext) {
            panel.sessionContext.shutdown();
            panel.dispose();
          }
        }""")


def _write_config(tmp: Path) -> None:
    """No news question, no language servers; all cells drawn."""
    labconfig = tmp / "config" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": {
        "@jupyterlab/apputils-extension:announcements": True}}))
    # Every cell in the page, not only those scrolled into view: the widgets are far down.
    tracker = tmp / "config" / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    (tmp / "config" / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"jpserver_extensions": {"jupyter_lsp": False}}}))


def _trust(notebooks: Path, data_dir: Path) -> None:
    """Saved widget views render in a trusted notebook only (else JupyterLab shows their text
    form): sign the copies in the lab's data dir, as `jupyter trust` does once on a person's
    machine (its notary, without a process of its own)."""
    import nbformat
    from nbformat.sign import NotebookNotary

    notary = NotebookNotary(data_dir=str(data_dir))
    for path in sorted(notebooks.glob("*.ipynb")):
        notary.sign(nbformat.read(path, as_version=nbformat.NO_CONVERT))
    notary.store.close()


def _wait_for_server(proc: subprocess.Popen[bytes], runtime: Path, log: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n"
                               f"{log.read_text(errors='replace')[-3000:]}")
        for info in runtime.glob("jpserver-*.json"):
            with contextlib.suppress(ValueError, OSError):
                url = str(json.loads(info.read_text())["url"])
                return url if url.endswith("/") else url + "/"
        time.sleep(0.1)  # polling for the server's own announcement, not waiting for luck
    raise RuntimeError(f"jupyter lab did not start in {START_TIMEOUT:.0f} s:\n"
                       f"{log.read_text(errors='replace')[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the server shuts its kernels down), then SIGKILL the whole group if need be."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # kernels the server left behind, if any
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    tmp = Path(tempfile.mkdtemp(prefix="heygen-lab-browser-"))
    proc: subprocess.Popen[bytes] | None = None
    with sigterm_unwinds():
        try:
            for folder in ("notebooks", "contracts", "cassettes"):
                shutil.copytree(ROOT / folder, tmp / "work" / folder)
            env = {k: v for k, v in os.environ.items() if k != "HEYGEN_API_KEY"}
            for var, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_CONFIG_DIR", "config"),
                             ("JUPYTER_DATA_DIR", "data"), ("IPYTHONDIR", "ipython"),
                             ("TMPDIR", "tmp")):
                (tmp / sub).mkdir(exist_ok=True)
                env[var] = str(tmp / sub)
            env["JUPYTER_PLATFORM_DIRS"] = "1"
            _write_config(tmp)
            _trust(tmp / "work" / "notebooks", tmp / "data")
            log = tmp / "server.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
                     "--ServerApp.ip=127.0.0.1", "--ServerApp.port=0",
                     f"--IdentityProvider.token={TOKEN}",
                     f"--ServerApp.root_dir={tmp / 'work' / 'notebooks'}",
                     "--ServerApp.terminals_enabled=False", "--LabApp.expose_app_in_browser=True",
                     # Kernels on Unix sockets in the runtime dir: TCP ports picked by binding
                     # port 0 and letting go can be taken before the kernel binds them.
                     "--KernelManager.transport=ipc",
                     "--LabApp.extension_manager=readonly", "--LabApp.news_url=None",
                     "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
                    env=env, cwd=tmp, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True)
            url = _wait_for_server(proc, tmp / "runtime", log)
            yield Lab(url, tmp / "work" / "notebooks", tmp)
        finally:
            if proc is not None:
                _stop(proc)
            shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(lab: Lab) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # The driver puts the browser profile in its temporary folder: ours, removed with the lab.
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(lab.tmp / "tmp")
    try:
        with sigterm_unwinds(), sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                  args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if saved is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved


@pytest.fixture(scope="module")
def jupyterlab(lab: Lab, browser: Any) -> Iterator[Any]:
    """JupyterLab loaded once in one page, as a person keeps one tab open."""
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{lab.url}lab?token={TOKEN}")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.restored")
        page.evaluate("() => window.jupyterapp.restored.then(() => true)")
        yield page
    finally:
        context.close()


@pytest.fixture
def page(lab: Lab, jupyterlab: Any, tmp_path: Path, request: pytest.FixtureRequest
         ) -> Iterator[Any]:
    """The JupyterLab page; the test's notebook is closed after it, and a failing test leaves
    ``failure.png`` (the whole page) in its tmp_path."""
    failed_before = request.session.testsfailed
    try:
        yield jupyterlab
    finally:
        if request.session.testsfailed > failed_before:  # counted before teardown runs
            with contextlib.suppress(Exception):
                jupyterlab.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        with contextlib.suppress(Exception):
            lab.close(jupyterlab)


def _widget(page: Any, cls: str) -> Any:
    """The one cell output holding a widget with this CSS class."""
    return page.locator(".jp-OutputArea-output").filter(has=page.locator(cls)).first


def _button(widget: Any, text: str) -> Any:
    """A widget's Button by its text (its icon's glyph is part of its accessible name)."""
    return widget.locator("button.widget-button").filter(has_text=text)


def _shown_before_running(page: Any, cls: str) -> None:
    """The saved widget state draws the widget before any cell has run (not its repr text)."""
    page.locator(cls).first.wait_for(state="visible")


# ====================================================================== the tests
def test_upload_widget_uploads_a_chosen_file(lab: Lab, page: Any, media_dir: Path,
                                             tmp_path: Path) -> None:
    lab.open(page, "01_upload_and_diagnose.ipynb")
    assert any((lab.tmp / "runtime").glob("kernel-*-ipc-*")), "the kernel is on Unix sockets"
    _shown_before_running(page, ".widget-upload")
    lab.run_all(page)
    widget = _widget(page, ".widget-upload")
    with page.expect_file_chooser() as chooser:  # the input itself is never in the page
        widget.locator(".widget-upload").click()
    chooser.value.set_files(str(media_dir / "tiny.png"))
    chosen = widget.get_by_text("tiny.png (")
    chosen.wait_for()
    assert "bytes)" in chosen.inner_text(), "the chosen file is named before uploading"
    _button(widget, "Upload").click()
    status = widget.get_by_text("tiny.png: uploaded, asset ")
    status.wait_for()
    asset_id = status.inner_text().rsplit(" ", 1)[1]
    card = widget.locator("table").filter(has_text="asset id")
    card.wait_for()
    assert asset_id in card.inner_text() and "image/png" in card.inner_text()
    assert widget.locator("img").count() >= 1, "the preview shows"

    # The key typed in live mode leaves the field (and widget state) as soon as it is entered.
    widget.get_by_role("button", name="live", exact=True).click()
    key_field = widget.locator("input[type=password]")
    key_field.fill(SECRET)
    key_field.press("Enter")
    page.wait_for_function("(el) => el.value === '' && el.placeholder.startsWith('key entered')",
                           arg=key_field.element_handle())
    assert SECRET not in page.content()
    widget.get_by_role("button", name="emulator", exact=True).click()
    key_field.wait_for(state="hidden")
    widget.screenshot(path=str(tmp_path / "upload-widget.png"))


def test_plan_check_widget_runs_and_fills_the_table(lab: Lab, page: Any, tmp_path: Path) -> None:
    lab.open(page, "02_check_a_plan.ipynb")
    _shown_before_running(page, ".heygen-plan-check")
    lab.run_all(page)
    widget = _widget(page, ".heygen-plan-check")
    plan = widget.locator("select").first
    widget.get_by_role("button", name="replay", exact=True).click()
    page.wait_for_function("(el) => el.disabled", arg=plan.element_handle())
    widget.get_by_role("button", name="emulator", exact=True).click()
    page.wait_for_function("(el) => !el.disabled", arg=plan.element_handle())

    only = widget.locator("input[type=text]").first
    only.fill("upload-v1/raw-jpeg, upload-v1/raw-png, upload-v3/ok-jpeg")
    only.press("Enter")
    _button(widget, "Run").click()
    widget.get_by_text("3 cases: 3 pass").wait_for()
    rows = widget.locator("table.heygen-plan-check tbody tr")
    assert rows.count() == 3
    assert rows.filter(has=page.locator("td")).evaluate_all(
        "rows => rows.every(r => r.classList.contains('verdict-pass'))")
    assert "upload-v3/ok-jpeg" in rows.nth(2).inner_text()
    widget.screenshot(path=str(tmp_path / "plan-check-widget.png"))


def test_cassette_browser_shows_an_interaction_with_the_key_redacted(lab: Lab, page: Any,
                                                                     tmp_path: Path) -> None:
    leaky = lab.notebooks.parent / "cassettes" / "zz-browser" / "with-key.yaml"
    leaky.parent.mkdir()
    leaky.write_text(yaml.safe_dump({"version": 1, "interactions": [{
        "request": {"method": "GET", "uri": f"https://api.heygen.com/v3/users/me?api_key={SECRET}",
                    "body": None, "headers": {"X-Api-Key": [SECRET]}},
        "response": {"status": {"code": 200, "message": "OK"}, "headers": {},
                     "body": {"string": '{"data": {"id": "me"}}'}}}]}))
    lab.open(page, "03_replay_offline.ipynb")
    _shown_before_running(page, ".widget-select")
    lab.run_all(page)
    widget = _widget(page, ".widget-select")
    _button(widget, "Refresh").click()
    select = widget.locator("select")
    page.wait_for_function("(el) => Array.from(el.options).some(o => o.text === "
                           "'zz-browser/with-key')", arg=select.element_handle())
    select.select_option(label="zz-browser/with-key")
    detail = widget.locator("pre").filter(has_text="/v3/users/me?api_key=")  # not the last one
    detail.wait_for()
    text = detail.inner_text()
    assert "#1 GET https://api.heygen.com/v3/users/me?api_key=[redacted]" in text
    assert "X-Api-Key: [redacted]" in text and "-> 200 OK" in text
    assert SECRET not in page.content()
    widget.screenshot(path=str(tmp_path / "cassette-browser.png"))
