"""Throughput and p95 latency: one Rasa server vs the two-server cluster behind nginx, in the same run.

    python -m bench.bench_cluster [--users 20,50] [--messages 5] [--servers 2]

Starts the cluster (`bot.cluster.Cluster`: PostgreSQL, Redis, nginx, N Rasa + N action servers) on free
loopback ports with a temporary data directory. Each of U simulated founders is one conversation sending
`--messages` messages one after another (a greeting, topic questions in words and by button); U founders run
at once. Every run is bounded: U x messages requests, each with a 120 s timeout.

- one server: every founder talks to Rasa server 1 directly (same PostgreSQL and Redis stores).
- cluster:    every founder talks to nginx with an X-Sender header, so nginx keeps each conversation on one
              server and spreads the conversations over all of them.

Prints requests, errors, throughput (requests/s), p50 and p95 latency per setup, and the cluster/one-server
ratios. The machine has 2 cores: the ratio says how much of the second core a second server can use.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

from bot import settings
from bot.cluster import Cluster, free_ports
from bench.bench_serving import percentile
from bot.services import ensure_knowledge, ensure_model

MESSAGES = ["hi", "what is a vendor of record arrangement", "/topic_invoicing",
            "how do i get a debriefing after losing a bid", "/topic_business_number", "thanks"]


@dataclass
class Result:
    setup: str
    users: int
    latencies_ms: list[float]
    errors: int
    seconds: float

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def throughput(self) -> float:
        return (self.requests - self.errors) / self.seconds

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p95(self) -> float:
        return percentile(self.latencies_ms, 95)


def run_load(url: str, users: int, messages: int, setup: str, sticky_header: bool) -> Result:
    """`users` conversations at once, each sending `messages` messages in turn; bounded by construction."""
    run_id = uuid.uuid4().hex[:6]

    def founder(index: int) -> list[tuple[float, bool]]:
        sender = f"bench-{run_id}-{index}"
        headers = {"X-Sender": sender} if sticky_header else {}
        timings = []
        with requests.Session() as session:
            for k in range(messages):
                started = time.perf_counter()
                try:
                    response = session.post(f"{url}/webhooks/rest/webhook", headers=headers, timeout=120,
                                            json={"sender": sender, "message": MESSAGES[k % len(MESSAGES)]})
                    ok = response.status_code == 200 and bool(response.json())
                except (requests.RequestException, ValueError):
                    ok = False
                timings.append(((time.perf_counter() - started) * 1000, ok))
        return timings

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=users) as pool:
        per_user = list(pool.map(founder, range(users)))
    seconds = time.perf_counter() - started
    flat = [t for timings in per_user for t in timings]
    return Result(setup, users, [ms for ms, _ in flat], sum(1 for _, ok in flat if not ok), seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_cluster")
    parser.add_argument("--users", default="20,50", help="comma-separated concurrent users (20,50)")
    parser.add_argument("--messages", type=int, default=5, help="messages per user (5)")
    parser.add_argument("--servers", type=int, default=2, help="Rasa + action servers in the cluster (2)")
    args = parser.parse_args(argv)
    user_counts = [int(u) for u in args.users.split(",")]

    model = ensure_model(settings.data_dir(), quiet=True)
    data_dir = Path(tempfile.mkdtemp(prefix="navigator-bench-cluster-"))
    data_dir.chmod(0o755)  # PostgreSQL runs as the postgres user and must reach its data directory
    os.environ["DATA_DIR"] = str(data_dir)
    for name in ("TRACKER_STORE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    ensure_knowledge(data_dir)
    rasa_port, actions_port = free_ports(2)
    cluster = Cluster(data_dir, model, "127.0.0.1", rasa_port, actions_port, None, servers=args.servers)
    results: list[Result] = []
    try:
        started = time.monotonic()
        cluster.start()
        print(f"cluster of {args.servers} ready in {time.monotonic() - started:.0f} s "
              f"(PostgreSQL, Redis, nginx, {args.servers} action + {args.servers} Rasa servers)", flush=True)
        one = cluster.nodes[0].rasa_url
        for node in cluster.nodes:  # the first replies of a fresh server are slow: warm every server up
            run_load(node.rasa_url, 4, len(MESSAGES), "warm-up", False)
        for users in user_counts:
            for setup, url, sticky in (("one server", one, False),
                                       (f"{args.servers}-server cluster", cluster.rasa_url, True)):
                result = run_load(url, users, args.messages, setup, sticky)
                results.append(result)
                print(f"  {users} users, {setup}: {result.requests} requests in {result.seconds:.1f} s", flush=True)
    except BaseException:
        for log in sorted((data_dir / "logs").glob("*.log")):  # the data directory goes: show why first
            print(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:]))
        raise
    finally:
        cluster.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

    print("\n| users | setup | requests | errors | throughput (req/s) | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r.users} | {r.setup} | {r.requests} | {r.errors} | {r.throughput:.1f} | {r.p50:.0f} | {r.p95:.0f} |")
    print("\n| users | throughput ratio (cluster / one) | p95 ratio (cluster / one) |")
    print("|---|---|---|")
    for users in user_counts:
        single, multi = [r for r in results if r.users == users]
        print(f"| {users} | {multi.throughput / single.throughput:.2f} | {multi.p95 / single.p95:.2f} |")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
