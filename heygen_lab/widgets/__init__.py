"""Notebook widgets (ipywidgets 8): thin views over the functions the CLI uses.

- :class:`UploadWidget`: choose files, a route and a target (emulator or live), upload, and
  read the asset card with a preview, or the diagnosis of a refusal in plain words.
- :class:`PlanCheckWidget`: run the contracts in emulator, replay or live mode, watch a
  colour-coded table fill in, read a case's differences, export the report, compare with a
  baseline.
- :class:`CassetteBrowser`: read recorded cassettes interaction by interaction, keys redacted.

Every button calls a method (``upload_selected``/``upload_bytes``, ``run``, ``export``,
``compare``, ``refresh``/``show``) that works without a browser, so tests and notebooks can
drive the widgets in code. Needs the ``notebook`` extra: ``pip install 'heygen-lab[notebook]'``.
Each widget loads on first use (the cassette browser brings vcrpy, the plan check the contracts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from heygen_lab._lazy import lazy_names

_EXPORTS = {"CassetteBrowser": "cassette_browser", "PlanCheckWidget": "plan_check",
            "UploadWidget": "upload", "output_text": "_common"}

__all__ = ["CassetteBrowser", "PlanCheckWidget", "UploadWidget", "output_text"]

if TYPE_CHECKING:
    from heygen_lab.widgets._common import output_text
    from heygen_lab.widgets.cassette_browser import CassetteBrowser
    from heygen_lab.widgets.plan_check import PlanCheckWidget
    from heygen_lab.widgets.upload import UploadWidget


__getattr__, __dir__ = lazy_names(__name__, _EXPORTS)
