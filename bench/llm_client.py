"""Benchmark: `seqit_utils.llm.client.LLMClient` at concurrency 1/4/16/64 vs a one-request-at-a-time loop, then a
re-run.

    python bench/llm_client.py [--n 512] [--latency 0.05] [--concurrency 1 4 16 64]

The server is a local OpenAI-compatible chat endpoint (stdlib, threaded, HTTP/1.1 keep-alive) that answers every
request after a fixed `--latency`, run in its own process so that it does not share the client's interpreter. The
baseline is what the authors' scripts do: the synchronous `openai.OpenAI` client called in a loop. Each client run
gets `--n` distinct prompts and a fresh cache file (so the cost of committing each answer is included); finally the
last run is repeated with its cache, which must send 0 requests. Prints a table and writes
`outputs/bench/llm_client.json`. Times are wall-clock on this machine; nothing asserts them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from seqit_utils import io
from seqit_utils.llm.client import LLMClient, user_messages


class FixedLatency(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as real servers set it: headers and body go out in two writes, and with Nagle's algorithm the
    # second waits for the client's delayed ACK (~40 ms), which would dominate the latency being measured.
    disable_nagle_algorithm = True
    latency = 0.05

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(self.latency)
        text = f"echo: {body['messages'][-1]['content']}"
        choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
        usage = {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9}
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"], "choices": [choice]}
        data = json.dumps(reply | {"usage": usage}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # listen() backlog; the default (5) refuses bursts of 64 new connections


def serve(latency: float) -> None:
    """Run the server until killed; print its port first (read by `main`)."""
    FixedLatency.latency = latency
    server = Server(("127.0.0.1", 0), FixedLatency)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def sequential(base_url: str, prompts: list[str]) -> float:
    """Seconds for the authors' pattern: one synchronous request after another."""
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
    start = time.perf_counter()
    for prompt in prompts:
        client.chat.completions.create(model="bench", messages=user_messages(prompt), temperature=0.0, max_tokens=64)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=512, help="requests per run")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the server takes per request")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--out", default="outputs/bench/llm_client.json")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # internal: be the server
    args = parser.parse_args()
    if args.serve:
        return serve(args.latency)

    command = [sys.executable, __file__, "--serve", "--latency", str(args.latency)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        base_url = f"http://127.0.0.1:{int(server.stdout.readline())}/v1"
        sampling = {"temperature": 0.0, "max_tokens": 64}
        sequential(base_url, ["warm-up"])  # imports and the first connection are not what we measure
        seconds = {"sequential": sequential(base_url, [f"sequential {i}" for i in range(args.n)])}
        with tempfile.TemporaryDirectory() as tmp:
            for concurrency in args.concurrency:
                client = LLMClient(
                    base_url,
                    "bench",
                    sampling=sampling,
                    concurrency=concurrency,
                    cache=Path(tmp) / f"c{concurrency}",
                    progress=False,
                )
                results = client.complete([user_messages(f"c{concurrency} {i}") for i in range(args.n)])
                assert client.stats.requests == args.n and all(r.ok for r in results), client.stats.summary()
                seconds[concurrency] = client.stats.seconds
            client.complete([user_messages(f"c{concurrency} {i}") for i in range(args.n)])  # the re-run
            rerun = client.stats
    finally:
        server.kill()
        server.wait()

    rps = {name: args.n / s for name, s in seconds.items()}
    print(f"{args.n} requests, server latency {args.latency * 1000:.0f} ms (ideal: concurrency / latency req/s)")
    print(f"{'client':<26} {'seconds':>8} {'req/s':>8} {'speed-up':>9} {'ideal':>7}")
    print(f"{'sequential openai.OpenAI':<26} {seconds['sequential']:>8.2f} {rps['sequential']:>8.1f} {1:>9.2f}")
    for c in args.concurrency:
        speedup = rps[c] / rps["sequential"]
        print(f"{f'LLMClient concurrency {c}':<26} {seconds[c]:>8.2f} {rps[c]:>8.1f} {speedup:>9.2f} {c:>7}")
    print(f"re-run with the cache: {rerun.requests} requests, {rerun.cache_hits} cache hits, {rerun.seconds:.2f} s")
    result = {
        "n": args.n,
        "server_latency_s": args.latency,
        "sequential_rps": rps["sequential"],
        "concurrency": {str(c): rps[c] for c in args.concurrency},
        "speedup_vs_sequential": {str(c): rps[c] / rps["sequential"] for c in args.concurrency},
        "seconds": {str(k): v for k, v in seconds.items()},
        "rerun_requests": rerun.requests,
        "rerun_cache_hits": rerun.cache_hits,
        "rerun_seconds": rerun.seconds,
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
        "versions": io.package_versions(["openai"]),
    }
    io.write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
