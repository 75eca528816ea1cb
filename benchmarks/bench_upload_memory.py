"""Does the client's memory stay flat while it uploads a large file?

Starts the emulator in a child process (``heygen-lab serve``), writes a sparse file of
``--size-mb`` (default 1024) that sniffs as MP4, and uploads it with ``HeyGenClient`` by the
routes that take large files: ``v1`` (raw bytes) and ``direct`` (init, PUT, complete), and by
``v3`` at its largest accepted size. Prints, per route, the time taken and the growth of this
process's peak RSS (``VmHWM``) over its baseline::

    python benchmarks/bench_upload_memory.py [--size-mb 1024] [--limit-mb 64]

Exits 1 if a route grows the peak RSS by more than ``--limit-mb``. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runs from a checkout, installed or not
    sys.path.insert(0, str(ROOT))

from heygen_lab.client import HeyGenClient  # noqa: E402
from heygen_lab.media import V3_MAX_BYTES  # noqa: E402

MIB = 1024 * 1024
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def sparse_mp4(path: Path, size: int) -> Path:
    with path.open("wb") as fh:
        fh.write(MP4_HEAD)
        fh.truncate(size)
    return path


def start_emulator() -> tuple[subprocess.Popen[str], str, str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from heygen_lab.cli import main; sys.exit(main())",
         "serve"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    values = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(3))
    return (proc, values["HEYGEN_API_BASE"], values["HEYGEN_UPLOAD_BASE"],
            values["HEYGEN_API_KEY"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--limit-mb", type=float, default=64.0)
    args = parser.parse_args()
    proc, api_base, upload_base, key = start_emulator()
    failed = False
    try:
        client = HeyGenClient(key, api_base=api_base, upload_base=upload_base, env={})
        with tempfile.TemporaryDirectory() as tmp:
            big = sparse_mp4(Path(tmp) / "big.mp4", args.size_mb * MIB)
            v3_max = sparse_mp4(Path(tmp) / "v3max.mp4", V3_MAX_BYTES)
            client.upload_asset(sparse_mp4(Path(tmp) / "warm.mp4", MIB), via="v1")  # warm-up
            print(f"{'route':<8} {'size':>10} {'seconds':>8} {'peak RSS growth':>16}")
            for via, path in (("v1", big), ("direct", big), ("v3", v3_max)):
                before = peak_rss_mib()
                started = time.perf_counter()
                asset = client.upload_asset(path, via=via)
                elapsed = time.perf_counter() - started
                growth = peak_rss_mib() - before
                assert asset.size == path.stat().st_size
                failed |= growth > args.limit_mb
                print(f"{via:<8} {path.stat().st_size // MIB:>7} MiB {elapsed:>8.2f} "
                      f"{growth:>12.1f} MiB")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"limit {args.limit_mb:g} MiB: {'EXCEEDED' if failed else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
