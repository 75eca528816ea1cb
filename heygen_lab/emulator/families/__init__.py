"""One module per API family; importing this package registers every handler.

Each module parses what its routes receive, asks :class:`~heygen_lab.emulator.state.EmulatorState`
(or its family's backend there) to act, and renders the answer.
"""

from . import (
           agents,
           asset_extras,
           assets,
           batches,
           catalogue,
           jobs,
           legacy,
           translations,
           users,
           videos,
)

__all__ = ["agents", "asset_extras", "assets", "batches", "catalogue", "jobs", "legacy",
           "translations", "users", "videos"]
