"""Peak memory while recording a large upload: ``upload-v3/over-32mb`` (a generated 32 MiB +
1 byte multipart upload) run on the embedded emulator, once plainly and once recorded into a
scratch cassette directory. Each in a fresh process; growth = peak RSS after the case minus
peak RSS after a warm-up case."""

from __future__ import annotations

import subprocess
import sys

CHILD = r"""
import resource, sys, tempfile
from pathlib import Path
from heygen_lab.contracts import run_check
record = sys.argv[1] == "record"
with tempfile.TemporaryDirectory() as scratch:
    kw = {"record": "emulator", "cassette_dir": Path(scratch)} if record else {"mode": "emulator"}
    run_check(only=["upload-v3/ok-jpeg"], **kw)  # warm-up: imports, threads, buffers
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = run_check(only=[sys.argv[2]], **kw)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(report.summary, (after - before) / 1024)
"""

if __name__ == "__main__":
    case = sys.argv[1] if len(sys.argv) > 1 else "upload-v3/over-32mb"
    for how in ("plain", "record"):
        out = subprocess.run([sys.executable, "-c", CHILD, how, case], check=True,
                             capture_output=True, text=True).stdout.split()
        print(f"{case} {how:<6}: {out[0]} {out[1]}, peak RSS growth {float(out[-1]):6.1f} MiB")
