"""One module per API family; importing this package registers every handler.

Each module parses what its routes receive, asks :class:`~heygen_lab.emulator.state.EmulatorState`
(or its family's backend there) to act, and renders the answer.
"""

from . import (
    agents,
    asset_extras,
    assets,
    avatars,
    batches,
    catalogue,
    jobs,
    legacy,
    translations,
    users,
    videos,
    voices,
    webhooks,
)

__all__ = ["agents", "asset_extras", "assets", "avatars", "batches", "catalogue", "jobs",
           "legacy", "translations", "users", "videos", "voices", "webhooks"]
