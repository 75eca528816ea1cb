"""How fast does ``HeyGenClient`` upload, next to ``curl -T`` of the same file to the same URL?

Starts the emulator (``heygen-lab serve``) and a throwaway sink (a tiny server in a child
process that reads and discards each body and answers a minimal valid response for the route),
writes an MP4-headed file per size, and times, interleaved (client, curl, client, curl...):

- ``v1``: ``upload_asset(via="v1")`` vs ``curl -X POST -T FILE -H 'Content-Type: video/mp4'
  -H 'X-Api-Key: ...' UPLOAD_BASE/v1/asset`` (``-T`` alone would PUT);
- ``direct``: the whole ``upload_asset(via="direct")`` (init, PUT, complete) vs ``curl -T`` of
  the same file to a signed URL from an (untimed) init.

Prints min and median seconds and the ratio curl/client (1.0 = as fast as curl, higher is
faster) on both targets; curl's MiB/s on the emulator vs on the sink shows whether the emulator
caps throughput. Each asset is deleted after its run. The files and the emulator's spool live in
one temporary directory under ``--tmp`` (``/dev/shm`` keeps disk writeback out of the numbers),
removed on exit and on SIGTERM::

    python benchmarks/bench_client_vs_curl.py [--sizes-mb 256 512] [--runs 3] [--tmp /dev/shm]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runs from a checkout, installed or not
    sys.path.insert(0, str(ROOT))

from heygen_lab import uploads  # noqa: E402
from heygen_lab.client import HeyGenClient  # noqa: E402
from heygen_lab.errors import HeyGenError  # noqa: E402

MIB = 1024 * 1024
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
KEY = "emulator-demo-key"

SINK = r'''
import json, socket, socketserver, sys
class H(socketserver.StreamRequestHandler):
    def handle(self):
        buf = bytearray(1 << 20)
        while True:
            line = self.rfile.readline()
            if not line:
                return
            method, path, _ = line.decode().split(" ", 2)
            headers = {}
            while (h := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                k, v = h.decode().split(":", 1)
                headers[k.strip().lower()] = v.strip()
            if headers.get("expect", "").lower() == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n"); self.wfile.flush()
            left = int(headers.get("content-length", "0"))
            view = memoryview(buf)
            while left:
                n = self.rfile.readinto(view[:min(left, len(buf))])
                if not n:
                    return
                left -= n
            host = "http://" + headers.get("host", "")
            if method == "PUT":
                body = b""
            elif path.startswith("/v1/asset"):
                body = json.dumps({"code": 100, "data": {"id": "s1", "url": host + "/f",
                                                         "file_type": "video"}}).encode()
            elif path.startswith("/v3/assets/direct-uploads"):
                body = json.dumps({"data": {"asset_id": "s1", "upload_url": host + "/_put/s1",
                                            "upload_headers": {"Content-Type": "video/mp4"}}}
                                  ).encode()
            else:
                body = json.dumps({"data": {"asset_id": "s1", "url": host + "/f",
                                            "mime_type": "video/mp4"}}).encode()
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            self.wfile.flush()
class S(socketserver.ThreadingTCPServer):
    daemon_threads = allow_reuse_address = True
server = S(("127.0.0.1", 0), H)
print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
'''


def start(argv: list[str], lines: int, tmp: Path) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=ROOT, env={**os.environ, "TMPDIR": str(tmp)})
    assert proc.stdout is not None
    return proc, [proc.stdout.readline().strip() for _ in range(lines)]


def write_file(path: Path, size: int) -> Path:
    block = bytes(range(256)) * (MIB // 256)
    with path.open("wb") as fh:
        fh.write(MP4_HEAD + block[len(MP4_HEAD):])
        for _ in range(size // MIB - 1):
            fh.write(block)
    return path


def timed(fn: Callable[[], object], client: HeyGenClient, times: list[float],
          asset_id: str | None = None) -> None:
    started = time.perf_counter()
    result = fn()
    times.append(time.perf_counter() - started)
    with suppress(HeyGenError):  # frees the emulator's spool; the sink has nothing to free
        client.delete_asset(asset_id or getattr(result, "id", None) or str(result))


def curl(path: Path, url: str, *headers: str, method: str = "PUT") -> str:
    argv = ["curl", "-sS", "-f", "-X", method, "-T", str(path), "-H", "Content-Type: video/mp4"]
    for h in headers:
        argv += ["-H", h]
    out = subprocess.run([*argv, url], check=True, capture_output=True).stdout
    return str(json.loads(out)["data"].get("id", "")) if out.strip() else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--targets", nargs="+", default=["emulator", "sink"])
    parser.add_argument("--tmp", default=None, help="where the temporary directory goes")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds: files removed
    procs: list[subprocess.Popen[str]] = []
    rows: list[tuple[str, str, int, list[float], list[float]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-curl-", dir=args.tmp) as tmp:
        try:
            run(args, Path(tmp), procs, rows)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait()
    print(f"{'target':<9}{'route':<8}{'MiB':>5} {'client min/med s':>17} {'curl min/med s':>15}"
          f" {'ratio min':>9} {'ratio med':>9} {'curl MiB/s':>10}")
    for target, route, size_mb, mine, theirs in rows:
        cmin, cmed = min(mine), statistics.median(mine)
        tmin, tmed = min(theirs), statistics.median(theirs)
        print(f"{target:<9}{route:<8}{size_mb:>5} {cmin:>8.2f}/{cmed:<8.2f} {tmin:>7.2f}/"
              f"{tmed:<7.2f} {tmin / cmin:>9.2f} {tmed / cmed:>9.2f} {size_mb / tmin:>10.0f}")
    return 0


def run(args: argparse.Namespace, tmp: Path, procs: list[subprocess.Popen[str]],
        rows: list[tuple[str, str, int, list[float], list[float]]]) -> None:
    bases = {}
    if "emulator" in args.targets:
        emu, values = start([sys.executable, "-m", "heygen_lab", "serve"], 3, tmp)
        procs.append(emu)
        env = dict(v.split("=", 1) for v in values)
        bases["emulator"] = (env["HEYGEN_API_BASE"], env["HEYGEN_UPLOAD_BASE"])
    if "sink" in args.targets:
        sink, (url,) = start([sys.executable, "-c", SINK], 1, tmp)
        procs.append(sink)
        bases["sink"] = (url, url)
    for size_mb in args.sizes_mb:
        path = write_file(tmp / f"f{size_mb}.mp4", size_mb * MIB)
        for target, (api, upload) in bases.items():
            client = HeyGenClient(KEY, api_base=api, upload_base=upload, env={})
            timed(partial(client.upload_asset, path, via="v1"), client, [])  # warm-up
            v1: tuple[list[float], list[float]] = ([], [])
            direct: tuple[list[float], list[float]] = ([], [])
            for _ in range(args.runs):  # interleaved: client, curl, client, curl
                timed(partial(client.upload_asset, path, via="v1"), client, v1[0])
                timed(partial(curl, path, f"{upload}/v1/asset", f"X-Api-Key: {KEY}",
                              method="POST"), client, v1[1])
                timed(partial(client.upload_asset, path, via="direct"), client, direct[0])
                init = client.call("direct-init", payload=uploads.json_body({
                    "filename": path.name, "content_type": "video/mp4",
                    "size_bytes": path.stat().st_size})).data
                timed(partial(curl, path, init["upload_url"]), client, direct[1],
                      asset_id=init["asset_id"])
            rows.append((target, "v1", size_mb, *v1))
            rows.append((target, "direct", size_mb, *direct))
            client.close()
        path.unlink()


if __name__ == "__main__":
    sys.exit(main())
