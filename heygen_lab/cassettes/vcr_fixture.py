"""One cassette per test, for the ``heygen_vcr`` fixture of :mod:`heygen_lab.pytest_plugin`.

:func:`use_test_cassette` opens ``<cassette_dir>/<module>/<test>.yaml`` with :func:`make_vcr`'s
configuration (fingerprinted bodies matched by ``heygen_body``, the key removed by name and
refused by value, atomic writes) in one of vcrpy's record modes, plus ``rewrite``:

- ``none`` (the default): replay only. The network is blocked at the socket level
  (:func:`~heygen_lab.cassettes.network.block_network`), and a request the cassette does not
  hold fails with :class:`UnmatchedRequest`: the closest recorded requests and, for each, the
  fields that differ.
- ``once``: record a missing cassette, replay an existing one (then as ``none``, without the
  socket block).
- ``new_episodes``: replay what matches, record the rest into the cassette.
- ``all``: send and record every request (matching interactions are replaced).
- ``rewrite``: record the cassette from scratch, as if it had been deleted first; the old file
  is replaced only when the test's recording is saved (atomically), so a failing test keeps it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.persisters.filesystem import CassetteNotFoundError

from heygen_lab.cassettes.gate import known_secrets
from heygen_lab.cassettes.network import block_network
from heygen_lab.cassettes.recorder import CassettePersister, make_vcr
from heygen_lab.errors import ConfigurationError

__all__ = ["RECORD_MODES", "UnmatchedRequest", "cassette_name", "use_test_cassette"]

RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")
RECORD_HINT = ("record it with 'pytest --heygen-record-mode once' (a new cassette), "
               "'new_episodes' (add to this one) or 'rewrite' (record it again from scratch)")
_UNSAFE = re.compile(r"[^\w.\-\[\]=,+]")


class UnmatchedRequest(CannotOverwriteExistingCassetteException):  # type: ignore[misc]
    """A request the cassette does not hold, in a mode that does not record it.

    vcrpy's message (the request, the closest recorded ones, each differing matcher with the
    ``heygen_body`` matcher's field-by-field explanation), then how to record it.
    """

    def __str__(self) -> str:
        return f"{super().__str__()}\n\nheygen-lab: {RECORD_HINT}"


class _FreshPersister(CassettePersister):
    """Reads no cassette (``rewrite`` starts from nothing); writes as :class:`CassettePersister`."""

    def load_cassette(self, cassette_path: str | Path, serializer: Any = None) -> Any:
        raise CassetteNotFoundError()


def cassette_name(module: str, test: str) -> str:
    """``<module>/<test>.yaml`` with characters unsafe in a file name replaced by ``_``."""
    return f"{_UNSAFE.sub('_', module)}/{_UNSAFE.sub('_', test)}.yaml"


@contextmanager
def use_test_cassette(
    cassette_dir: str | Path,
    name: str,
    *,
    record_mode: str = "none",
    secrets: Iterable[str] = (),
    canonical_hosts: Mapping[str, str] | None = None,
    provenance: Mapping[str, str] | None = None,
    block: bool | None = None,
) -> Iterator[Any]:
    """Use the cassette ``cassette_dir/name`` in ``record_mode`` (see the module docstring);
    yields vcrpy's ``Cassette``; its ``heygen_unmatched`` lists the :class:`UnmatchedRequest`
    errors raised (a test may have caught them).

    ``block`` (default: in mode ``none``) blocks the network at the socket level as well.
    """
    if record_mode not in RECORD_MODES:
        raise ConfigurationError(f"record mode must be one of {', '.join(RECORD_MODES)}; "
                                 f"got {record_mode!r}")
    recorder = make_vcr(cassette_dir, record_mode="all" if record_mode == "rewrite" else
                        record_mode, secrets=secrets, canonical_hosts=canonical_hosts,
                        provenance=provenance)
    if record_mode == "rewrite":
        recorder.register_persister(_FreshPersister(known_secrets(secrets), provenance))
    with ExitStack() as stack:
        if block if block is not None else record_mode == "none":
            hint = ("to reach the network, record with 'pytest --heygen-record-mode once' "
                    "(or new_episodes, rewrite), or answer the requests with the "
                    "heygen_emulator or heygen_emulated fixture")
            stack.enter_context(block_network(hint))
        cassette = stack.enter_context(recorder.use_cassette(name))
        _explain_unmatched(cassette)
        yield cassette


def _explain_unmatched(cassette: Any) -> None:
    """Make the cassette raise :class:`UnmatchedRequest` (and remember the request) as soon as
    it is asked for a request it cannot play and may not record."""
    unmatched: list[UnmatchedRequest] = []
    playable = cassette.can_play_response_for

    def can_play_response_for(request: Any) -> bool:
        if playable(request):
            return True
        if cassette.write_protected and cassette.filter_request(request) is not None:
            error = UnmatchedRequest(cassette=cassette, failed_request=request)
            unmatched.append(error)
            raise error
        return False

    cassette.can_play_response_for = can_play_response_for
    cassette.heygen_unmatched = unmatched
