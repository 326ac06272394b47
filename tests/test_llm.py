"""`seqit_utils.llm.client` against a real HTTP server on 127.0.0.1 (the real `openai` client sends real requests).

A real model server cannot be made to produce rate limits, 5xx bursts, resets or broken JSON on demand, so these
tests use a stdlib server speaking the OpenAI chat-completions JSON (the fake sits at the HTTP boundary). It answers
"echo: <prompt>"; words of the prompt starting with "!" are faults for successive attempts at that prompt ("!429
!500" = 429, then 500, then success; a trailing "*" repeats a fault forever). `tests/test_serve.py` runs the client
against a real `transformers serve`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from seqit_utils.llm.cache import ResponseCache, request_key
from seqit_utils.llm.client import LLMClient, LLMError, Result, Sampling, user_messages

SECRET = "sk-seqit-test-7c1f0e93ab42d5e6"
KEY_ENV = "SEQIT_TEST_LLM_KEY"
FAST = dict(api_key_env=KEY_ENV, backoff=0.01, progress=False)  # tests must finish in seconds


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, latency: float = 0.0, slow: float = 1.0):
        super().__init__(("127.0.0.1", 0), FaultyOpenAI)
        self.latency, self.slow, self.faults_on = latency, slow, True
        self.log: list[dict] = []
        self.attempts: Counter[str] = Counter()
        self.in_flight = self.peak = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def prompts(self, start: int = 0) -> list[str]:
        return [entry["prompt"] for entry in self.log[start:]]

    def handle_error(self, request, client_address):  # a client that hung up (timeout, kill) is expected here
        pass


class FaultyOpenAI(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and TCP_NODELAY, as real servers do
    disable_nagle_algorithm = True
    server: Server

    def do_POST(self):
        srv = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        with srv.lock:
            attempt = srv.attempts[prompt]
            srv.attempts[prompt] += 1
            srv.log.append({"prompt": prompt, "time": time.monotonic(), "auth": self.headers["Authorization"]})
            srv.log[-1]["body"] = body
            srv.in_flight += 1
            srv.peak = max(srv.peak, srv.in_flight)
        try:
            time.sleep(srv.latency)
            self.respond(prompt, self.fault(prompt, attempt) if srv.faults_on else "ok")
        finally:
            with srv.lock:
                srv.in_flight -= 1

    @staticmethod
    def fault(prompt: str, attempt: int) -> str:
        faults = [w[1:] for w in prompt.split() if w.startswith("!")]
        if faults and faults[-1].endswith("*"):
            return faults[-1][:-1] if attempt >= len(faults) - 1 else faults[attempt]
        return faults[attempt] if attempt < len(faults) else "ok"

    def respond(self, prompt: str, fault: str):
        if fault == "reset":  # RST instead of a response
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if fault == "slow":
            time.sleep(self.server.slow)
        if fault == "bad":
            return self.send(200, b'{"id": "x", "object": "chat.completion", "choices": [{"mess')
        if fault.startswith("retry"):  # 429 with Retry-After: <seconds>
            return self.send(429, b'{"error": {"message": "slow down"}}', {"Retry-After": fault[5:]})
        if fault == "401echo":  # a careless server that quotes the request's Authorization header back
            message = f"invalid key in header {self.headers['Authorization']}"
            return self.send(401, json.dumps({"error": {"message": message}}).encode())
        if fault.isdigit():
            return self.send(int(fault), json.dumps({"error": {"message": f"injected {fault}"}}).encode())
        text = f"echo: {prompt}"
        usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": "tiny", "choices": [choice]}
        self.send(200, json.dumps(reply | {"usage": usage}).encode())

    def send(self, status: int, data: bytes, headers: dict | None = None):
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def start(latency: float = 0.0, slow: float = 1.0) -> Server:
    srv = Server(latency, slow)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture
def server():
    srv = start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)


def chats(prompts):
    return [user_messages(p) for p in prompts]


def test_requests_carry_model_messages_sampling_and_key_and_results_keep_input_order(server):
    server.latency = 0.02
    sampling = {"temperature": 0.7, "max_tokens": 9, "seed": 3, "stop": ["\n\n"]}
    client = LLMClient(server.url, "tiny", concurrency=4, sampling=sampling, **FAST)
    prompts = [f"question {i}" for i in range(20)]
    results = client.complete([user_messages(p, system="be brief") for p in prompts])
    assert [r.text for r in results] == [f"echo: {p}" for p in prompts]
    assert all(r.ok and r.attempts == 1 and not r.cached and r.finish_reason == "stop" for r in results)
    assert 2 <= server.peak <= 4  # concurrent, and bounded
    for entry in server.log:
        assert entry["auth"] == f"Bearer {SECRET}"
        body = entry["body"]
        assert body["model"] == "tiny" and body["messages"][0] == {"role": "system", "content": "be brief"}
        assert {k: body[k] for k in sampling} == sampling and "top_p" not in body  # unset fields are not sent
    stats = client.stats
    assert (stats.items, stats.requests, stats.cache_hits, stats.retries, stats.failures) == (20, 20, 0, 0, 0)
    assert stats.prompt_tokens == 40 and stats.completion_tokens == 60
    assert client.complete_text(["a b"]) == ["echo: a b"]


def test_rerun_with_the_cache_sends_nothing_and_the_key_ignores_url_and_api_key(server, tmp_path, monkeypatch):
    cache = tmp_path / "llm.sqlite"
    prompts = [f"p {i}" for i in range(12)]
    first = LLMClient(server.url, "tiny", cache=cache, **FAST).complete(chats(prompts))
    assert len(server.log) == 12
    monkeypatch.setenv(KEY_ENV, "another-key")
    other_url = server.url.replace("127.0.0.1", "localhost")
    again = LLMClient(other_url, "tiny", cache=cache, **FAST)
    rerun = again.complete(chats(prompts))
    assert len(server.log) == 12 and again.stats.requests == 0 and again.stats.cache_hits == 12
    assert [r.text for r in rerun] == [r.text for r in first] and all(r.cached for r in rerun)
    assert [(r.prompt_tokens, r.completion_tokens) for r in rerun] == [(2, 3)] * 12
    monkeypatch.delenv(KEY_ENV)  # a fully cached run needs no key, even for a remote endpoint
    remote = LLMClient("https://api.example.invalid/v1", "tiny", cache=cache, **FAST)
    assert remote.complete_text(prompts) == [r.text for r in first] and remote.stats.requests == 0
    monkeypatch.setenv(KEY_ENV, SECRET)
    # A different model or different sampling parameters are different requests.
    LLMClient(server.url, "tiny", cache=cache, sampling={"temperature": 1.0}, **FAST).complete(chats(prompts[:2]))
    LLMClient(server.url, "other", cache=cache, **FAST).complete(chats(prompts[:3]))
    assert len(server.log) == 17


def test_totals_add_up_every_batch_of_a_client(server, tmp_path):
    client = LLMClient(server.url, "tiny", cache=tmp_path / "c.sqlite", **FAST)
    client.complete(chats(["a", "b", "c"]))
    first = client.stats
    client.complete(chats(["a", "d"]))
    assert (client.stats.items, client.stats.requests, client.stats.cache_hits) == (2, 1, 1)
    totals = client.totals
    assert (totals.items, totals.requests, totals.cache_hits, totals.failures) == (5, 4, 1, 0)
    assert totals.completion_tokens == first.completion_tokens + client.stats.completion_tokens > 0
    assert totals.seconds == pytest.approx(first.seconds + client.stats.seconds)


def test_identical_requests_in_one_batch_are_sent_once(server):
    client = LLMClient(server.url, "tiny", **FAST)
    results = client.complete(chats(["same", "other", "same", "same"]))
    assert [r.text for r in results] == ["echo: same", "echo: other", "echo: same", "echo: same"]
    assert sorted(server.prompts()) == ["other", "same"] and client.stats.requests == 2


def test_bursts_of_429_and_5xx_are_retried_with_growing_backoff(server):
    client = LLMClient(server.url, "tiny", max_retries=4, **(FAST | {"backoff": 0.05}))
    prompts = ["a !429 !429 !500", "b !503 !502", "c !500", "d"]
    results = client.complete(chats(prompts))
    assert [r.text for r in results] == [f"echo: {p}" for p in prompts]
    assert [r.attempts for r in results] == [4, 3, 2, 1]
    assert (client.stats.requests, client.stats.retries, client.stats.failures) == (10, 6, 0)
    times = [e["time"] for e in server.log if e["prompt"] == prompts[0]]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # backoff * 2**k times a factor in [0.5, 1]: >= 0.025, 0.05, 0.1 s
    assert all(gap >= 0.05 * 2**k * 0.5 - 0.005 for k, gap in enumerate(gaps)) and gaps[2] > gaps[0]


def test_retry_after_is_honoured(server):
    client = LLMClient(server.url, "tiny", **(FAST | {"backoff": 0.001}))
    assert client.complete_text(["x !retry0.4"]) == ["echo: x !retry0.4"]
    first, second = (e["time"] for e in server.log)
    assert second - first >= 0.39


def test_timeouts_resets_and_malformed_bodies_are_retried(server):
    server.slow = 1.5  # past the client's timeout (which leaves room for a loaded machine)
    client = LLMClient(server.url, "tiny", timeout=0.5, max_retries=3, **FAST)
    prompts = ["t !slow", "r !reset !reset", "m !bad", "all !slow !reset !bad", "fine"]
    start = time.monotonic()
    results = client.complete(chats(prompts))
    assert time.monotonic() - start < 2 * server.slow  # the client gave up on the slow answers
    assert [r.text for r in results] == [f"echo: {p}" for p in prompts]
    assert [r.attempts for r in results] == [2, 3, 2, 4, 1]
    assert client.stats.retries == 7 and client.stats.failures == 0


def test_final_failures_are_reported_per_item_and_never_cached(server, tmp_path, caplog):
    server.slow = 4.0  # the hung item outlasts the timeout; 2 s leaves the others room on a loaded machine
    cache = tmp_path / "llm.sqlite"
    client = LLMClient(server.url, "tiny", timeout=2.0, max_retries=2, cache=cache, **FAST)
    prompts = ["ok 1", "dead !500*", "refused !400*", "broken !bad*", "hung !slow*", "reset !reset*", "ok 2"]
    with caplog.at_level(logging.WARNING, logger="seqit_utils.llm.client"):
        results = client.complete(chats(prompts))
    assert len(results) == len(prompts) and all(isinstance(r, Result) for r in results)
    assert [r.ok for r in results] == [True, False, False, False, False, False, True]
    assert [r.attempts for r in results] == [1, 3, 1, 3, 3, 3, 1]  # a 400 is final at once
    assert "500" in results[1].error and "400" in results[2].error and "JSON" in results[3].error
    assert "Timeout" in results[4].error and "Connection" in results[5].error
    assert all(r.text is None for r in results if not r.ok)
    assert client.stats.failures == 5 and client.stats.requests == 15
    assert sum("failed after" in m for m in caplog.messages) == 5
    with ResponseCache(cache) as stored:
        assert len(stored) == 2  # only the successes
    with pytest.raises(LLMError, match=r"5 of 7 requests failed after retries \(items 1, 2, 3, 4, 5\)"):
        client.complete_text(prompts)
    # Once the server recovers, a re-run requests exactly the failed items.
    server.faults_on, before = False, len(server.log)
    texts = client.complete_text(prompts)
    assert texts == [f"echo: {p}" for p in prompts]
    assert sorted(server.prompts(before)) == sorted(prompts[1:6]) and client.stats.cache_hits == 2


def test_api_key_never_appears_in_cache_logs_output_results_or_errors(server, tmp_path, caplog, capsys):
    cache = tmp_path / "llm.sqlite"
    client = LLMClient(server.url, "tiny", max_retries=1, cache=cache, **(FAST | {"progress": True}))
    prompts = ["fine", "echoes the key !401echo", "dead !500*", "broken !bad*", "reset !reset*"]
    with caplog.at_level(logging.DEBUG):  # everything: ours, openai's and the HTTP library's debug logs
        results = client.complete(chats(prompts))
        with pytest.raises(LLMError) as error:
            client.complete_text(prompts)
    assert all(entry["auth"] == f"Bearer {SECRET}" for entry in server.log)  # the key really was used
    assert "***" in results[1].error  # the server quoted it back; we redacted it
    out, err = capsys.readouterr()
    texts = [out, err, caplog.text, str(error.value), repr(error.value), repr(client), repr(client.stats)]
    texts += [repr(r) for r in results] + [str(r.error) for r in results]
    assert "llm: 5 items" in err  # the summary line was printed
    for text in texts:
        assert SECRET not in text
    files = [p for p in tmp_path.iterdir() if p.name.startswith("llm.sqlite")]  # the database, its WAL and index
    assert cache in files and all(SECRET.encode() not in p.read_bytes() for p in files)


def test_missing_key_names_the_variable_and_local_servers_get_a_dummy(server, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(RuntimeError, match=f"{KEY_ENV} is not set"):
        LLMClient("https://api.example.invalid/v1", "m", **FAST).complete(chats(["hi"]))
    assert LLMClient(server.url, "tiny", **FAST).complete_text(["hi"]) == ["echo: hi"]
    assert server.log[-1]["auth"] == "Bearer EMPTY"


def test_arguments_are_validated_with_the_key_named():
    with pytest.raises(ValueError, match="concurrency"):
        LLMClient("http://127.0.0.1:1/v1", "m", concurrency=0)
    with pytest.raises(ValueError, match="temperatur"):
        LLMClient("http://127.0.0.1:1/v1", "m", sampling={"temperatur": 0})
    with pytest.raises(TypeError, match="user_messages"):
        LLMClient("http://127.0.0.1:1/v1", "m").request("a bare string")
    assert Sampling().temperature == 0.0  # greedy unless asked otherwise


def test_complete_works_inside_a_running_event_loop(server):
    client = LLMClient(server.url, "tiny", **FAST)

    async def notebook_cell():  # Jupyter runs cells inside an event loop
        return client.complete_text(["in a loop"])

    assert asyncio.run(notebook_cell()) == ["echo: in a loop"]


# ---- processes: a run killed mid-way, and several processes sharing one cache ----

RUNNER = """
import sys
from seqit_utils.io import write_json
from seqit_utils.llm.client import LLMClient, user_messages

url, cache, out, first, last, key_env = sys.argv[1:]
client = LLMClient(url, "tiny", api_key_env=key_env, concurrency=8, backoff=0.01, cache=cache, progress=False)
results = client.complete([user_messages(f"item {i}") for i in range(int(first), int(last))])
write_json(out, {"results": [vars(r) for r in results], "stats": vars(client.stats)})
"""


def run_client(tmp_path, url, cache, out, first, last):
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, str(script), url, str(cache), str(out), str(first), str(last), KEY_ENV], env=env
    )


def item_key(i):
    return request_key(LLMClient("http://127.0.0.1:1/v1", "tiny").request(user_messages(f"item {i}")))


def test_a_killed_run_resumes_without_losing_or_repeating_finished_requests(tmp_path):
    srv = start(latency=0.03)
    try:
        cache, out, n = tmp_path / "llm.sqlite", tmp_path / "out.json", 200
        process = run_client(tmp_path, srv.url, cache, out, 0, n)
        deadline = time.monotonic() + 60
        while len(srv.log) < 60 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        time.sleep(0.2)  # requests already on the wire reach the server's log
        killed_at = len(srv.log)
        assert not out.exists()
        with ResponseCache(cache) as stored:
            stored_keys = stored.keys()
        finished = {i for i in range(n) if item_key(i) in stored_keys}
        assert 40 <= len(finished) < n  # answers were committed one by one, not at the end

        assert run_client(tmp_path, srv.url, cache, out, 0, n).wait(timeout=120) == 0
        resumed = srv.prompts(killed_at)
        assert not {f"item {i}" for i in finished} & set(resumed)  # no finished request was sent again
        assert sorted(resumed) == sorted(f"item {i}" for i in range(n) if i not in finished)  # each once
        final = json.loads(out.read_text())
        assert [r["text"] for r in final["results"]] == [f"echo: item {i}" for i in range(n)]
        assert sum(r["cached"] for r in final["results"]) == final["stats"]["cache_hits"] == len(finished)
        assert final["stats"]["requests"] == n - len(finished) and final["stats"]["failures"] == 0
    finally:
        srv.shutdown()
        srv.server_close()


def test_processes_writing_one_cache_at_once(tmp_path):
    srv = start(latency=0.002)
    try:
        cache = tmp_path / "llm.sqlite"
        runs = [run_client(tmp_path, srv.url, cache, tmp_path / f"out{k}.json", k * 50, k * 50 + 150) for k in (0, 1)]
        assert [p.wait(timeout=120) for p in runs] == [0, 0]
        for k in (0, 1):
            final = json.loads((tmp_path / f"out{k}.json").read_text())
            assert [r["text"] for r in final["results"]] == [f"echo: item {i}" for i in range(k * 50, k * 50 + 150)]
            assert final["stats"]["failures"] == 0
        db = sqlite3.connect(cache)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone() == (200,)
        db.close()
        # Overlapping items may be requested by both runs; a later run finds all 200.
        assert run_client(tmp_path, srv.url, cache, tmp_path / "out.json", 0, 200).wait(timeout=120) == 0
        assert json.loads((tmp_path / "out.json").read_text())["stats"]["requests"] == 0
    finally:
        srv.shutdown()
        srv.server_close()
