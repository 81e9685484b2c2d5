"""Studio load shedding: abandoned renders, a burst of heavy renders beside a light request, and clients that never
finish their request; for this tree and, with --baseline-tree, for another checkout measured in the same run.

    git worktree add /tmp/sg-base 9f02d4c       # the studio before load shedding
    python benchmarks/studio_shedding.py --baseline-tree /tmp/sg-base

Each server is `serve` on the shipped models in a fresh process. A heavy request is a 1024x1024 ScaleParty view
(about a megapixel, the studio's cap); a light one is a sample. Figures: the server's CPU seconds after the
abandoned clients left, the wait of the next light request, the statuses and latencies of the burst, and how many
unfinished requests are still connected after READ_TIMEOUT + 2 seconds. Light requests retry a 503 after
one second, as the page does (it waits out Retry-After).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.studio_soak import free_port, wait_until_serving  # noqa: E402

SERVER = "import sys\nfrom spatialgan.serve import app\napp.serve(['ssn', 'cips', 'scaleparty'], '127.0.0.1', " \
         "int(sys.argv[1]), 'cpu', 1 << 20)\n"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post(port: int, route: str, body: dict, timeout: float = 600) -> tuple[int, float, bytes]:
    """(status, seconds, body) of one POST."""
    start = time.time()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{route}", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, time.time() - start, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, time.time() - start, exc.read()


def post_as_page(port: int, route: str, body: dict, tries: int = 10) -> tuple[int, float, int]:
    """(status, seconds, 503s seen) of a POST retried after each 503's Retry-After, as the studio page does."""
    start, refusals = time.time(), 0
    while True:
        status, _, response = post(port, route, body)
        if status != 503 or refusals + 1 >= tries:
            return status, time.time() - start, refusals
        refusals += 1
        time.sleep(1.0)


def raw_request(port: int, route: str, body: dict) -> bytes:
    data = json.dumps(body).encode()
    return (f"POST {route} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


def wait_idle(pid: int, limit: float = 300.0) -> float:
    """Seconds until the server uses under 5% of a core over a second (or `limit`)."""
    start = time.time()
    while time.time() - start < limit:
        before = cpu_seconds(pid)
        time.sleep(1.0)
        if cpu_seconds(pid) - before < 0.05:
            break
    return time.time() - start


def abandoned(port: int, pid: int, heavy: dict, light: dict, count: int) -> dict:
    cpu0 = cpu_seconds(pid)
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(raw_request(port, "/api/render", heavy))
        sockets.append(s)
    time.sleep(0.3)
    for s in sockets:
        s.close()
    status, light_wait, refusals = post_as_page(port, "/api/sample", light)
    idle_after = wait_idle(pid)
    return {"abandoned": count, "light_status": status, "light_wait_s": round(light_wait, 2),
            "light_503s_before": refusals,
            "server_cpu_s": round(cpu_seconds(pid) - cpu0, 1), "busy_for_s": round(idle_after, 1)}


def burst(port: int, heavy: dict, other_light: dict, count: int) -> dict:
    results, lock = [], threading.Lock()

    def one():
        r = post(port, "/api/render", heavy)
        with lock:
            results.append(r[:2])
    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    light_status, light_wait, _ = post_as_page(port, "/api/sample", other_light)
    for t in threads:
        t.join()
    ok = [s for code, s in results if code == 200]
    return {"heavy": count, "answered_200": len(ok), "answered_503": sum(c == 503 for c, _ in results),
            "max_heavy_s": round(max(s for _, s in results), 1), "light_other_model_s": round(light_wait, 2),
            "light_status": light_status}


def slow_clients(port: int, count: int, wait: float) -> dict:
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /api/sample HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        sockets.append(s)
    time.sleep(wait)
    still_open = 0
    for s in sockets:
        s.settimeout(0.05)
        try:
            still_open += s.recv(1) != b""
        except socket.timeout:
            still_open += 1
        except OSError:
            pass
        s.close()
    return {"unfinished": count, "still_open_after_s": wait, "still_open": still_open}


def measure(tree: Path, args) -> dict:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(tree))
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env, cwd=str(tree),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_serving(port)
        latent = json.loads(post(port, "/api/sample", {"model": "scaleparty", "seed": 1})[2])["latent"]
        heavy = {"model": "scaleparty", "latent": latent, "width": 1024, "height": 1024, "center": [0, 0],
                 "scale": 0.25}
        out = {"tree": str(tree)}
        out["abandoned"] = abandoned(port, server.pid, heavy, {"model": "scaleparty", "seed": 2}, args.abandoned)
        print(json.dumps(out["abandoned"]), flush=True)
        out["burst"] = burst(port, heavy, {"model": "ssn", "seed": 3}, args.burst)
        print(json.dumps(out["burst"]), flush=True)
        out["slow"] = slow_clients(port, args.slow, args.slow_wait)
        print(json.dumps(out["slow"]), flush=True)
        return out
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline-tree", type=Path, default=None)
    p.add_argument("--abandoned", type=int, default=10)
    p.add_argument("--burst", type=int, default=16)
    p.add_argument("--slow", type=int, default=100)
    p.add_argument("--slow-wait", type=float, default=12.0, help="seconds (the read timeout is 10)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    results = {"this": measure(ROOT, args)}
    if args.baseline_tree:
        results["baseline"] = measure(args.baseline_tree, args)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
