"""Start-up time, memory and REST reply latency of the running assistant.

    python -m bench.bench_serving [--requests 100] [--concurrency 1]

Starts the real action server, Rasa server and web page on free loopback ports with a temporary data
directory (the model is trained or reused as `make run` does), then prints: time for each service to become
ready, RSS of each process, and p50/p95 reply latency over REST for a greeting and a knowledge answer.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bot import settings
from bot.services import Stack, api_token, ensure_knowledge, ensure_model

MESSAGES = {"greeting": "hi", "knowledge answer": "what is a vendor of record arrangement"}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure(url: str, text: str, count: int, concurrency: int) -> tuple[list[float], int]:
    def one(i: int) -> tuple[float, bool]:
        sender = f"bench-{uuid.uuid4().hex[:8]}-{i % max(concurrency, 1)}"
        started = time.perf_counter()
        try:
            response = requests.post(url, json={"sender": sender, "message": text}, timeout=60)
            ok = response.status_code == 200 and bool(response.json())
        except requests.RequestException:
            ok = False
        return (time.perf_counter() - started) * 1000, ok

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(count)))
    return [ms for ms, _ in results], sum(1 for _, ok in results if not ok)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_serving")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args(argv)

    model = ensure_model(settings.data_dir(), quiet=True)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        import os

        os.environ["DATA_DIR"] = str(data_dir)
        ensure_knowledge(data_dir)
        stack = Stack("127.0.0.1", free_port(), free_port(), free_port(), data_dir, api_token(data_dir))
        try:
            timings = {}
            for name, start in (("action server", stack.start_actions), ("Rasa server", lambda: stack.start_rasa(model)),
                                ("web page", stack.start_web)):
                started = time.perf_counter()
                start()
                timings[name] = time.perf_counter() - started
            url = f"{stack.rasa_url}/webhooks/rest/webhook"
            first = time.perf_counter()
            requests.post(url, json={"sender": "warmup", "message": "hi"}, timeout=60)
            first_answer = time.perf_counter() - first
            print(f"model: {model.name} ({model.stat().st_size / 1e6:.1f} MB)")
            for name, seconds in timings.items():
                print(f"start-up {name:<14} {seconds:6.1f} s")
            print(f"first reply after start   {first_answer * 1000:6.0f} ms")
            for name, process in stack.processes.items():
                print(f"RSS {name:<10} {rss_mb(process.pid):8.0f} MB")
            for label, text in MESSAGES.items():
                latencies, errors = measure(url, text, args.requests, args.concurrency)
                print(f"REST {label:<17} n={len(latencies)} concurrency={args.concurrency} "
                      f"p50 {statistics.median(latencies):6.1f} ms  p95 {percentile(latencies, 95):6.1f} ms  "
                      f"errors {errors}")
            for name, process in stack.processes.items():
                print(f"RSS after load {name:<10} {rss_mb(process.pid):8.0f} MB")
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
