"""Replay in constant time per request: vcrpy's Cassette with an index.

vcrpy looks a request up by running every matcher against every stored interaction, and runs
the ``before_record_request`` hooks (a deep copy and a body fingerprint here) three times per
request. :class:`IndexedCassette` keeps vcrpy's semantics and changes only the cost:

- stored interactions are bucketed by the values that the equality matchers in ``match_on``
  compare (method, scheme, host, port, path, query, uri, and the body fingerprint of
  :func:`~heygen_lab.cassettes.fingerprints.body_matcher`); a request is matched, with every
  matcher as vcrpy would, only against its bucket, in recorded order, so the first unplayed
  match wins as before. Matchers it doesn't know are simply run on the bucket's candidates;
  with none known, it scans like vcrpy;
- the hooks run once per request, not once per lookup (vcrpy filters the same request in
  ``can_play_response_for``, ``__contains__`` and ``play_response``).

Mismatch explanations are vcrpy's own (``find_requests_with_most_matches`` is untouched), so
``parts[1].name: this request 'file', recorded 'asset'`` still reads as before. Cassettes are
the same files: plain vcrpy with the registered matcher replays them too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import vcr
from vcr import matchers as vcr_matchers
from vcr.cassette import Cassette
from vcr.matchers import requests_match
from vcr.record_mode import RecordMode
from vcr.request import Request

from heygen_lab.cassettes import recorder as _recorder
from heygen_lab.cassettes.fingerprints import body_key, body_matcher

__all__ = ["IndexedCassette", "IndexedVCR", "index_key_functions", "indexed", "make_vcr"]


def _uri_key(r: Request) -> str:
    normalized: Callable[[Request], str] | None = getattr(vcr_matchers, "_normalized_uri", None)
    return normalized(r) if normalized is not None else str(r.uri)


_KEYS: dict[Any, Callable[[Request], Any]] = {
    vcr_matchers.method: lambda r: r.method,
    vcr_matchers.scheme: lambda r: r.scheme,
    vcr_matchers.host: lambda r: r.host,
    vcr_matchers.port: lambda r: r.port,
    vcr_matchers.path: lambda r: r.path or "/",  # vcrpy: an empty path is "/"
    vcr_matchers.query: lambda r: tuple(r.query),
    vcr_matchers.uri: _uri_key,
    body_matcher: body_key,
}
"""For each equality matcher: the value it compares (two requests pass it iff these are equal).
``uri`` is left out when this vcrpy has no ``_normalized_uri`` (then it compares as it likes)."""
if getattr(vcr_matchers, "_normalized_uri", None) is None:  # pragma: no cover - older vcrpy
    del _KEYS[vcr_matchers.uri]


def index_key_functions(match_on: Any) -> tuple[Callable[[Request], Any], ...]:
    """The key functions for the matchers of ``match_on`` that can be indexed (maybe none)."""
    return tuple(_KEYS[m] for m in match_on if m in _KEYS)


class IndexedCassette(Cassette):  # type: ignore[misc]
    """A vcrpy ``Cassette`` that finds a request's interactions through an index."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._key_functions = index_key_functions(self._match_on)
        self._index: dict[Any, list[int]] = {}
        self._unkeyed: list[int] = []  # stored requests whose key could not be computed
        self._indexed: list[Any] = []  # the data entries indexed so far, in order
        self._last: tuple[Request, object, str, str, Request] | None = None
        self._matched: tuple[Request, int, list[tuple[int, Any]]] | None = None

    def _load(self) -> None:
        """Read the file, then index what it holds: a cost of loading the cassette (O(n), once),
        not of its first request. Interactions recorded later are indexed as they come."""
        super()._load()
        if self._key_functions:
            self._refresh()

    # -- the hooks, once per request ----------------------------------------------------------

    def _filtered(self, request: Request) -> Request:
        last = self._last
        if last is not None:
            source, body, method, uri, filtered = last
            if request is filtered:  # the hooks are idempotent (vcrpy relies on that too)
                return filtered
            if (request is source and getattr(request, "_body", None) is body
                    and request.method == method and request.uri == uri):
                return filtered
        result: Request = self._before_record_request(request)
        if result is not None:
            self._last = (request, getattr(request, "_body", None), request.method,
                          request.uri, result)
        return result

    def can_play_response_for(self, request: Request) -> bool:
        request = self._filtered(request)
        return bool(request and request in self and self.record_mode != RecordMode.ALL
                    and (self.rewound or self.allow_playback_repeats))

    # -- the index ----------------------------------------------------------------------------

    def _key(self, request: Request) -> Any:
        return tuple(f(request) for f in self._key_functions)

    def _refresh(self) -> None:
        data = self.data
        n = len(self._indexed)
        if len(data) < n or any(data[i] is not self._indexed[i] for i in (0, n - 1) if n):
            self._index, self._unkeyed, self._indexed, n = {}, [], [], 0  # data was replaced
        for i in range(n, len(data)):
            try:
                key = self._key(data[i][0])
            except Exception:  # an odd stored request: always a candidate, matched fully
                self._unkeyed.append(i)
            else:
                self._index.setdefault(key, []).append(i)
            self._indexed.append(data[i])

    def _candidates(self, request: Request) -> list[int] | range:
        if not self._key_functions:
            return range(len(self.data))
        self._refresh()
        try:
            key = self._key(request)
        except Exception:
            return range(len(self.data))
        bucket = self._index.get(key, [])
        if self._unkeyed:
            return sorted([*bucket, *self._unkeyed])
        return list(bucket)

    def _responses(self, request: Request) -> Iterator[tuple[int, Any]]:
        # vcrpy asks twice per request (``request in cassette``, then ``play_response``): the
        # matches of the last request are kept until another request or a recording comes.
        request = self._filtered(request)
        last = self._matched
        if last is not None and last[0] is request and last[1] == len(self.data):
            return iter(last[2])
        found = [(index, self.data[index][1]) for index in self._candidates(request)
                 if requests_match(request, self.data[index][0], self._match_on)]
        self._matched = (request, len(self.data), found)
        return iter(found)


class IndexedVCR(vcr.VCR):  # type: ignore[misc]
    """A ``vcr.VCR`` whose cassettes are :class:`IndexedCassette` (same options, same files)."""

    def _use_cassette(self, with_current_defaults: bool = False, **kwargs: Any) -> Any:
        if with_current_defaults:
            return IndexedCassette.use(**self.get_merged_config(**kwargs))
        return IndexedCassette.use_arg_getter(functools.partial(self.get_merged_config, **kwargs))


def indexed(recorder: vcr.VCR) -> IndexedVCR:
    """The same configured recorder, replaying through :class:`IndexedCassette`."""
    if isinstance(recorder, IndexedVCR):
        return recorder
    fast: IndexedVCR = IndexedVCR.__new__(IndexedVCR)
    fast.__dict__.update(recorder.__dict__)
    return fast


@functools.wraps(_recorder.make_vcr)
def make_vcr(*args: Any, **kwargs: Any) -> IndexedVCR:
    return indexed(_recorder.make_vcr(*args, **kwargs))
