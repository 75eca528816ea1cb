"""Replay cost per request as a cassette grows: heygen_lab's cassettes vs plain vcrpy.

Writes one synthetic cassette per size (10 / 100 / 1000 / 5000 interactions: GETs of distinct
videos and POSTs of distinct JSON bodies to one URL), twice: as heygen_lab stores it
(fingerprinted bodies, replayed by ``make_vcr`` with the body matcher) and as plain vcrpy stores
it (raw bodies, ``vcr.VCR()`` with its default matchers, no body matching). Then replays up to
200 of its requests, spread evenly, with ``requests``, alternating ours and plain, best of a few
rounds (more for small cassettes, so each side replays at least ``--sample`` requests). Prints
ms per request, the cassette's load apart (ours includes building its index), the ratio
ours / plain and how flat ours stays (ms per request at N / at 10), and charts ms per request
against N::

    python benchmarks/bench_replay.py [--sizes 10,100,1000,5000] [--sample 200]

Goals (issue 11): ours at 5000 within 1.5x of ours at 10, and below plain vcrpy at every size.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from _common import chart, scratch, table

API = "https://api.heygen.com"


def interactions(n: int, fingerprinted: bool) -> list[dict[str, Any]]:
    from heygen_lab.cassettes.fingerprints import encode_fingerprint, fingerprint

    out = []
    for i in range(n):
        if i % 2:
            method, uri, body = "GET", f"{API}/v3/videos/vid-{i:05d}", None
            headers: dict[str, list[str]] = {}
        else:
            method, uri = "POST", f"{API}/v3/videos"
            body = json.dumps({"title": f"video {i}", "avatar_id": "a1", "n": i})
            headers = {"Content-Type": ["application/json"]}
            if fingerprinted:
                body = encode_fingerprint(fingerprint("application/json", body))
        out.append({
            "request": {"method": method, "uri": uri, "body": body, "headers": headers},
            "response": {"status": {"code": 200, "message": "OK"},
                         "headers": {"Content-Type": ["application/json"]},
                         "body": {"string": json.dumps({"data": {"n": i}})}},
        })
    return out


def write(path: Path, n: int, fingerprinted: bool) -> None:
    import yaml

    data = {"version": 1, "interactions": interactions(n, fingerprinted)}
    if fingerprinted:
        data["metadata"] = {"provenance": {"kind": "emulator", "tool": "bench_replay"}}
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    path.write_text(yaml.dump(data, Dumper=dumper, sort_keys=False, width=2**30))


def replay(recorder: Any, cassette: str, n: int, sample: int) -> tuple[float, float]:
    """(load ms, ms per request) replaying ``sample`` of the cassette's requests in order."""
    import requests

    count = min(n, sample)
    picks = sorted({round(k * (n - 1) / max(count - 1, 1)) for k in range(count)})
    assert len(picks) == count, (n, sample, len(picks))
    session = requests.Session()
    start = time.perf_counter()
    with recorder.use_cassette(cassette):
        loaded = time.perf_counter()
        for i in picks:
            if i % 2:
                r = session.get(f"{API}/v3/videos/vid-{i:05d}")
            else:
                r = session.post(f"{API}/v3/videos",
                                 json={"title": f"video {i}", "avatar_id": "a1", "n": i})
            assert r.status_code == 200, r.status_code
        done = time.perf_counter()
    session.close()
    return (loaded - start) * 1000, (done - loaded) * 1000 / len(picks)


def run(sizes: list[int], sample: int, rounds: int) -> str:
    import vcr

    from heygen_lab.cassettes import make_vcr

    rows: list[list[Any]] = []
    ours_ms: dict[int, float] = {}
    plain_ms: dict[int, float] = {}
    with scratch("heygen-lab-bench-replay-") as root:
        ours_vcr = make_vcr(root / "ours", record_mode="none")
        plain_vcr = vcr.VCR(cassette_library_dir=str(root / "plain"), record_mode="none")
        for n in sizes:
            (root / "ours").mkdir(exist_ok=True)
            (root / "plain").mkdir(exist_ok=True)
            write(root / "ours" / f"n{n}.yaml", n, True)
            write(root / "plain" / f"n{n}.yaml", n, False)
            best: dict[str, tuple[float, float]] = {}
            # A small cassette replays in a few ms, where one scheduler hiccup decides "best of
            # three": rounds are repeated until each side replayed at least ~200 requests.
            reps = rounds * max(1, sample // min(n, sample))
            for _ in range(reps):  # interleaved: ours, plain, ours, plain...
                for name, rec in (("ours", ours_vcr), ("plain", plain_vcr)):
                    got = replay(rec, f"n{n}.yaml", n, sample)
                    if name not in best or got[1] < best[name][1]:
                        best[name] = got
            ours_ms[n], plain_ms[n] = best["ours"][1], best["plain"][1]
            rows.append([n, min(n, sample), best["ours"][1], best["plain"][1],
                         best["ours"][1] / best["plain"][1], best["ours"][0], best["plain"][0]])
    first = ours_ms[sizes[0]]
    for row in rows:
        row.insert(5, ours_ms[row[0]] / first)
    text = table("replay: ms per request (best of rounds), ours = heygen_lab cassettes + matcher",
                 ["interactions", "requests", "ours ms", "plain ms", "ours/plain",
                  f"ours vs {sizes[0]}", "ours load ms", "plain load ms"], rows)
    flat = ours_ms[sizes[-1]] / first
    below = all(ours_ms[n] < plain_ms[n] for n in sizes)
    text += (f"\ngoal flat: ours at {sizes[-1]} is {flat:.2f}x ours at {sizes[0]} (goal <= 1.5x): "
             f"{'holds' if flat <= 1.5 else 'does not hold'}"
             f"\ngoal below plain vcrpy at every size: {'holds' if below else 'does not hold'}")

    def draw(plt: Any) -> None:
        plt.plot(sizes, [ours_ms[n] for n in sizes], "o-", label="heygen_lab (fingerprint matcher)")
        plt.plot(sizes, [plain_ms[n] for n in sizes], "s--", label="plain vcrpy (no body matching)")
        plt.xscale("log")
        plt.yscale("log")
        plt.xlabel("interactions in the cassette")
        plt.ylabel("ms per replayed request")
        plt.title("Replay cost per request")
        plt.legend()

    return text + "\n" + chart("replay", draw)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,100,1000,5000")
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(run([int(s) for s in args.sizes.split(",")], args.sample, args.rounds), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
