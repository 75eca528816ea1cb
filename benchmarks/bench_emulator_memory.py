"""Does the emulator's memory stay flat while large uploads stream through it?

Runs the emulator in a child process, streams a generated file (default 1 GiB, never held in
memory on either side) to each upload route, and prints the growth of the child's peak RSS
(``VmHWM`` from ``/proc/<pid>/status``) over a warmed-up baseline:

    python benchmarks/bench_emulator_memory.py [--size-mb 1024] [--limit-mb 64]

Routes: v1 raw upload (full size), v3 direct upload PUT + complete (full size), v3 multipart
(its 32 MiB maximum), and v3 multipart over the limit sent chunked (rejected while streaming).
Exits 1 if any route grows the peak RSS by more than ``--limit-mb``. Linux only (/proc).

Leaves nothing behind: the child's storage and its temporary files (``TMPDIR``) live in one
directory this process owns and removes at the end, also on failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from requests_toolbelt import MultipartEncoder

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
PNG_HEAD = b"\x89PNG\r\n\x1a\n"
if str(ROOT) not in sys.path:  # runs from a checkout, installed or not
    sys.path.insert(0, str(ROOT))


class Pattern:
    """A read-only file of ``size`` bytes: ``head`` then a repeated pseudo-random block."""

    def __init__(self, size: int, head: bytes) -> None:
        self.size, self.pos = size, 0
        self.head = head
        self.block = os.urandom(MIB)

    def __len__(self) -> int:
        return self.size - self.pos

    def read(self, n: int = -1) -> bytes:
        n = len(self) if n is None or n < 0 else min(n, len(self))
        out = bytearray()
        while len(out) < n:
            if self.pos < len(self.head):
                piece = self.head[self.pos:self.pos + n - len(out)]
            else:
                offset = (self.pos - len(self.head)) % MIB
                piece = self.block[offset:offset + n - len(out)]
            out += piece
            self.pos += len(piece)
        return bytes(out)


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def serve(storage: str | None) -> None:
    """Child mode: run an emulator until stdin closes."""
    from heygen_lab.emulator import Emulator, SystemClock

    with Emulator(clock=SystemClock(), read_timeout=120, storage_dir=storage) as emu:
        print(emu.api_base, emu.upload_base, flush=True)
        sys.stdin.read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="upload size (default 1024)")
    parser.add_argument("--limit-mb", type=int, default=64,
                        help="allowed peak RSS growth per route (default 64)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--storage", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.storage)
        return 0

    from heygen_lab._signals import sigterm_unwinds

    with sigterm_unwinds():  # unwind through the finally below
        scratch = tempfile.mkdtemp(prefix="heygen-lab-bench-")
        try:
            return run(args, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def run(args: argparse.Namespace, scratch: str) -> int:
    from heygen_lab.emulator import DEMO_KEY

    storage = os.path.join(scratch, "storage")
    child = subprocess.Popen([sys.executable, __file__, "--serve", "--storage", storage],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                             env={**os.environ, "TMPDIR": scratch})
    assert child.stdout is not None and child.stdin is not None
    api, upload = child.stdout.readline().split()
    key = {"X-Api-Key": DEMO_KEY}
    size = args.size_mb * MIB

    def v1(n: int) -> Any:
        r = requests.post(f"{upload}/v1/asset", data=Pattern(n, MP4_HEAD), timeout=3600,
                          headers={**key, "Content-Type": "video/mp4"})
        r.raise_for_status()
        return r.json()["data"]["id"]

    def v3(n: int) -> Any:
        enc = MultipartEncoder(fields={"file": ("big.png", Pattern(n, PNG_HEAD), "image/png")})
        r = requests.post(f"{api}/v3/assets", data=enc, timeout=3600,
                          headers={**key, "Content-Type": enc.content_type})
        r.raise_for_status()
        return r.json()["data"]["asset_id"]

    def v3_over_limit(n: int) -> Any:
        enc = MultipartEncoder(fields={"file": ("big.png", Pattern(n, PNG_HEAD), "image/png")})

        def chunks() -> Iterator[bytes]:
            while block := enc.read(MIB):
                yield block

        r = requests.post(f"{api}/v3/assets", data=chunks(), timeout=3600,
                          headers={**key, "Content-Type": enc.content_type})
        assert r.status_code == 413, r.text
        return None

    def direct(n: int) -> Any:
        init = requests.post(f"{api}/v3/assets/direct-uploads", headers=key, timeout=60, json={
            "filename": "big.mp4", "content_type": "video/mp4", "size_bytes": n}).json()["data"]
        requests.put(init["upload_url"], data=Pattern(n, MP4_HEAD),
                     headers=init["upload_headers"], timeout=3600).raise_for_status()
        done = requests.post(f"{api}/v3/assets/{init['asset_id']}/complete", json={},
                             headers=key, timeout=600)
        done.raise_for_status()
        return init["asset_id"]

    routes = [("v1 raw  POST upload:/v1/asset", v1, size),
              ("v3 direct PUT + complete", direct, size),
              ("v3 multipart POST /v3/assets", v3, 32 * MIB - 1024),
              ("v3 multipart, over limit (413)", v3_over_limit, min(size, 64 * MIB))]
    try:
        for _, fn, _ in routes:  # warm up every code path with a small upload
            asset = fn(64 * 1024) if fn is not v3_over_limit else None
            if asset:
                requests.delete(f"{api}/v3/assets/{asset}", headers=key, timeout=60)
        base_hwm = status_kib(child.pid, "VmHWM")
        print(f"emulator pid {child.pid}: baseline RSS {status_kib(child.pid, 'VmRSS') / 1024:.1f}"
              f" MiB, peak {base_hwm / 1024:.1f} MiB")
        print(f"{'route':34} {'bytes':>12} {'seconds':>8} {'peak RSS growth':>16}")
        worst = 0.0
        for name, fn, n in routes:
            start = time.monotonic()
            asset = fn(n)
            elapsed = time.monotonic() - start
            growth = (status_kib(child.pid, "VmHWM") - base_hwm) / 1024
            worst = max(worst, growth)
            print(f"{name:34} {n:>12} {elapsed:>8.1f} {growth:>13.1f} MiB")
            if asset:
                requests.delete(f"{api}/v3/assets/{asset}", headers=key, timeout=60)
        verdict = "flat" if worst <= args.limit_mb else "NOT flat"
        print(f"worst peak RSS growth: {worst:.1f} MiB (limit {args.limit_mb} MiB): {verdict}")
        return 0 if worst <= args.limit_mb else 1
    finally:
        child.stdin.close()
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


if __name__ == "__main__":
    sys.exit(main())
