"""Studio soak: a bounded burst of concurrent requests on loopback, the server's RSS sampled as it goes.

Runs the studio (the shipped models) twice in fresh processes: as `spatialgan serve` starts it now (malloc arenas
capped), and with the training-oriented glibc settings the CLI used to apply to every command (the baseline of
issue 18: RSS 261 MB -> 3.0 GB after 300 requests). Each run sends --requests requests from --clients threads
(samples, SSN resamples, CIPS and ScaleParty views of several sizes) and prints RSS over time.

    python benchmarks/studio_soak.py --requests 400 --clients 16
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SERVER = """
import sys
from spatialgan import runtime
from spatialgan.serve import app
if sys.argv[2] == "baseline":
    runtime.keep_freed_memory()                     # what the CLI did before for every command
    runtime.limit_malloc_arenas = lambda count=2: False
app.serve(["ssn", "cips", "scaleparty"], "127.0.0.1", int(sys.argv[1]), "cpu", 1 << 20)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(port: int, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/models", timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def post(port: int, route: str, body: dict) -> bytes:
    """One POST; a 503 (the model's queue is full) is retried after its Retry-After, as the page does."""
    import urllib.error

    while True:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{route}", data=json.dumps(body).encode(),
                                         headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                raise
            time.sleep(float(exc.headers.get("Retry-After", 1)))


def workload(port: int, k: int) -> None:
    """Request k of the soak: a mix of what the page asks for."""
    kind = ("ssn", "cips", "scaleparty")[k % 3]
    sample = json.loads(post(port, "/api/sample", {"model": kind, "seed": k % 50}))
    if kind == "ssn":
        post(port, "/api/resample", {"model": "ssn", "latent": sample["latent"], "blocks": [[k % 4, (k // 4) % 4]],
                                     "count": 4, "seed": k})
    else:
        size = (128, 128) if k % 2 else (512, 128)
        post(port, "/api/render", {"model": kind, "latent": sample["latent"], "width": size[0], "height": size[1],
                                   "center": [0.1 * (k % 7), 0.0], "scale": 0.25 + 0.25 * (k % 4)})


def soak(mode: str, requests: int, clients: int) -> list[tuple[float, int, float]]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), mode], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_serving(port)
        done, lock, samples, start = [0], threading.Lock(), [], time.time()
        samples.append((0.0, 0, rss_mb(server.pid)))

        def client(first: int) -> None:
            for k in range(first, requests, clients):
                workload(port, k)
                with lock:
                    done[0] += 1

        threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            time.sleep(1.0)
            samples.append((time.time() - start, done[0], rss_mb(server.pid)))
        samples.append((time.time() - start, done[0], rss_mb(server.pid)))
        return samples
    finally:
        server.terminate()
        server.wait(timeout=30)


def summary(samples) -> dict:
    quarter = max(1, len(samples) // 4)
    second = statistics.median(s[2] for s in samples[quarter:2 * quarter])
    last = statistics.median(s[2] for s in samples[-quarter:])
    return {"start_mb": samples[0][2], "peak_mb": max(s[2] for s in samples), "median_2nd_quarter_mb": second,
            "median_last_quarter_mb": last, "growth_last_vs_2nd_quarter": last / second, "requests": samples[-1][1],
            "seconds": samples[-1][0]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=400)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--modes", default="now,baseline")
    args = p.parse_args()
    rows = {}
    for mode in args.modes.split(","):
        samples = soak(mode, args.requests, args.clients)
        rows[mode] = summary(samples)
        print(mode, json.dumps(rows[mode]), flush=True)
        every = max(1, len(samples) // 12)
        print("  RSS MB by time: " + ", ".join(f"{t:.0f}s/{n}req: {r:.0f}" for t, n, r in samples[::every]),
              flush=True)
    print(f"\n# studio soak: {args.requests} requests from {args.clients} threads, shipped models, "
          f"{os.cpu_count()} CPUs\n| allocator | start MB | peak MB | median RSS, 2nd quarter | median RSS, last "
          f"quarter | last / 2nd | seconds |\n|---|---|---|---|---|---|---|")
    for mode, r in rows.items():
        print(f"| {mode} | {r['start_mb']:.0f} | {r['peak_mb']:.0f} | {r['median_2nd_quarter_mb']:.0f} | "
              f"{r['median_last_quarter_mb']:.0f} | {r['growth_last_vs_2nd_quarter']:.2f} | {r['seconds']:.0f} |")


if __name__ == "__main__":
    main()
