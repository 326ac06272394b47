"""The suite generator (`seqit_utils.llm.suite_generator`, standing in for Llama-3-70B-Instruct) behind an
OpenAI-compatible HTTP endpoint, and Seq-Instruct run through it (Table 4/5 in miniature).

    with suite_generator_server({"A": 0.1, "B": 0.5, "C": 0.25, "D": 0.15}) as endpoint:
        client = LLMClient(endpoint.base_url, endpoint.model, cache=...)

The server is the standard library's `ThreadingHTTPServer` in a subprocess on 127.0.0.1 and a free port, started and
stopped like `transformers serve` (`seqit_utils.llm.serve`): `POST /v1/chat/completions` (non-streaming), `GET
/v1/models`, `GET /health`. Errors are OpenAI-style JSON: 400 for a malformed request, 404 for another model name
or path, 500 (logged) if the generator itself fails; the server keeps running. `run_suite_seq_instruct` drives the
real pipeline over it: `seq_instruct.run_seq_instruct` with the `LLMClient` and its request cache.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from seqit_utils.data.tasks import run_chain
from seqit_utils.llm.suite_generator import STANDS_IN_FOR, SuiteGenerator, parse_suite_instruction

logger = logging.getLogger(__name__)
CACHE_FILE = "suite_generator.sqlite"


def _usage(messages: Sequence[Mapping[str, Any]], text: str) -> dict[str, int]:
    """Token counts as whitespace-separated words (the generator has no tokenizer)."""
    prompt = sum(len(str(m.get("content") or "").split()) for m in messages)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": len(text.split()),
        "total_tokens": prompt + len(text.split()),
    }


def completion_body(generator: SuiteGenerator, request: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for a chat-completions request body; never raises on bad input."""
    messages, model = request.get("messages"), request.get("model")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return 400, _error("`messages` must be a list of {'role': ..., 'content': ...} objects", "invalid_request")
    if model != generator.model:
        return 404, _error(f"model {model!r} not found; this server has {generator.model!r}", "model_not_found")
    if request.get("stream"):
        return 400, _error("streaming is not supported by the suite generator", "invalid_request")
    text, finish = generator.reply(messages), "stop"
    limit = request.get("max_tokens") or request.get("max_completion_tokens")
    if isinstance(limit, int) and 0 < limit < len(text.split()):  # the OpenAI behaviour: cut, finish "length"
        text, finish = " ".join(text.split()[:limit]), "length"
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
    body = {"id": f"chatcmpl-suite-{time.monotonic_ns()}", "object": "chat.completion", "created": int(time.time())}
    return 200, body | {"model": generator.model, "choices": [choice], "usage": _usage(messages, text)}


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 refuses connections when the client opens 16 at once


def _handler(generator: SuiteGenerator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the client reuses connections

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path.rstrip("/") == "/health":
                self._send(200, {"status": "ok"})
            elif self.path.rstrip("/") == "/v1/models":
                model = {"id": generator.model, "object": "model", "created": 0, "owned_by": "seqit"}
                self._send(200, {"object": "list", "data": [model]})
            else:
                self._send(404, _error(f"no route GET {self.path}", "not_found"))

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, _error(f"no route POST {self.path}", "not_found"))
                return
            try:
                request = json.loads(body or b"null")
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                self._send(400, _error(f"the body is not JSON: {err}", "invalid_json"))
                return
            if not isinstance(request, dict):
                self._send(400, _error("the body must be a JSON object", "invalid_request"))
                return
            try:
                self._send(*completion_body(generator, request))
            except Exception as err:  # a generator bug answers 500 for this request; the server keeps serving
                logger.exception("suite generator failed on a request")
                self._send(500, _error(f"{type(err).__name__}: {err}", "internal_error"))

        def log_message(self, format: str, *args: Any) -> None:  # one line per request at DEBUG, not on stderr
            logger.debug(format, *args)

    return Handler


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until killed: `python -m seqit_utils.llm.suite_server --port P --config '<json>'`."""
    parser = argparse.ArgumentParser(description=f"the suite generator (stands in for {STANDS_IN_FOR}) over HTTP")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", default="{}", help='JSON: {"rates": {...} | null, "seed": int}')
    args = parser.parse_args(argv)
    config = json.loads(args.config)
    generator = SuiteGenerator.from_rates(config.get("rates"), seed=int(config.get("seed", 0)))
    server = _Server(("127.0.0.1", args.port), _handler(generator))
    print(f"suite generator {generator.model!r} on http://127.0.0.1:{args.port}/v1", flush=True)
    server.serve_forever()
    return 0


@contextmanager
def suite_generator_server(
    rates: Mapping[str, Any] | None = None,
    seed: int = 0,
    *,
    startup_timeout: float = 60.0,
    log_path: Path | None = None,
) -> Iterator[Any]:
    """Run the suite generator's server on a free loopback port until the block ends; yields its
    `seqit_utils.llm.serve.Endpoint` (model = `SuiteGenerator.model`). `rates`: see `SuiteGenerator.from_rates`.
    A server that exits or is not healthy within `startup_timeout` s raises a RuntimeError quoting its log."""
    generator = SuiteGenerator.from_rates(rates, seed)  # validates the rates here, before a process starts
    arguments = ["--config", json.dumps({"rates": rates, "seed": seed})]
    with program_server("seqit_utils.llm.suite_server", arguments, generator.model, "the suite generator server",
                        startup_timeout=startup_timeout, log_path=log_path) as endpoint:  # fmt: skip
        yield endpoint


@contextmanager
def program_server(
    module: str, arguments: Sequence[str], model: str, what: str, *, startup_timeout: float, log_path: Path | None
) -> Iterator[Any]:
    """`python -m <module> --port <free port> <arguments>` on loopback until the block ends (the suite generator,
    the dry run's stand-in); yields its `Endpoint`. One that exits or is not healthy within `startup_timeout` s
    raises a RuntimeError naming `what` and quoting its log."""
    from seqit_utils.llm.serve import Endpoint, _healthy, _stop, _tail, free_port

    port = free_port()
    command = [sys.executable, "-m", module, "--port", str(port), *arguments]
    with tempfile.TemporaryDirectory(prefix="seqit-program-") as tmp:
        log = Path(log_path) if log_path is not None else Path(tmp) / "server.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as log_file:
            process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + startup_timeout
            while not _healthy(f"http://127.0.0.1:{port}/health"):
                if process.poll() is not None or time.monotonic() > deadline:
                    state = f"exited with code {process.returncode}" if process.poll() is not None else "not healthy"
                    raise RuntimeError(f"{what} {state}; end of its log ({log}):\n{_tail(log)}")
                time.sleep(0.1)
            yield Endpoint(f"http://127.0.0.1:{port}/v1", model, process.pid)
        finally:
            _stop(process, grace=5.0)


# ---------------------------------------------------------------- Seq-Instruct over the suite generator (Table 4)
def _with_gold(record: dict[str, Any]) -> dict[str, Any]:
    """`record` with the suite's gold `steps`, `n_steps`, `task` for its (new) instruction, and `answer_ok`: whether
    its output equals that gold (None if the instruction is not in the suite's wording)."""
    names = parse_suite_instruction(record["instruction"])
    try:
        outputs = run_chain(names, record["input"]) if names else None
    except ValueError:  # the suite's wording on an input it does not fit
        outputs = None
    if outputs is None:
        return {**record, "answer_ok": None}
    steps = [{"task": name, "output": output} for name, output in zip(names, outputs, strict=True)]
    gold = {"task": ">".join(names), "steps": steps, "n_steps": len(steps)}
    return {**record, **gold, "answer_ok": record["output"] == "\n".join(outputs)}


def run_suite_seq_instruct(
    records: Sequence[dict[str, Any]],
    rates: Mapping[str, Any] | None,
    iterations: int,
    seed: int,
    cache_dir: str | Path,
    *,
    tokenizer: Any = None,
    concurrency: int = 16,
    progress: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Seq-Instruct (§2.2) over task-suite `records` with the suite generator as the LLM: (SIT records, stats).

    The real pipeline: `seq_instruct.run_seq_instruct` (our prompts, parsers, iterations; `seed`) asks an `LLMClient`
    whose request cache is `<cache_dir>/suite_generator.sqlite`, talking to `suite_generator_server(rates, seed)`.
    SIT records = the last iteration's records (as many as `records`), each with the suite's gold `steps` for its
    instruction and `answer_ok`. Stats: the generator's model name and rates, `run_seq_instruct`'s summary, Table 4
    (`seq_instruct_stats.table4_stats`; iteration 0 = `records`, without option shares; `tokenizer` default: the
    MiniLM WordPiece tokenizer, as for the authors' recorded outputs), answers checked against the gold, and the
    client's request counts (`client`: a re-run from the cache sends 0 requests).
    """
    # Imported here, not at the top: the server process imports this module and starts faster without them.
    from seqit_utils.llm.client import LLMClient
    from seqit_utils.sit import seq_instruct, seq_instruct_prompts, seq_instruct_stats

    name = seq_instruct_stats.MINILM_TOKENIZER if tokenizer is None else None
    tokenizer = seq_instruct_stats.minilm_tokenizer() if tokenizer is None else tokenizer
    with suite_generator_server(rates, seed) as endpoint:
        client = LLMClient(
            endpoint.base_url,
            endpoint.model,
            cache=Path(cache_dir) / CACHE_FILE,
            concurrency=concurrency,
            progress=progress,
        )
        run = seq_instruct.run_seq_instruct(records, client.complete, iterations=iterations, seed=seed)
    sit_records = [_with_gold(r) for r in run.records_by_iteration[-1]]
    by_iteration = {0: [{**r, "option": None} for r in records], **dict(enumerate(run.records_by_iteration, 1))}
    table4 = seq_instruct_stats.table4_stats(by_iteration, tokenizer, tokenizer_name=name)
    table4["iterations"][0]["option_share"] = {o: None for o in seq_instruct_prompts.OPTIONS}  # Table 4: dashes for 0
    generator = SuiteGenerator.from_rates(rates, seed)
    stats = {
        "generator": endpoint.model,
        "stands_in_for": STANDS_IN_FOR,
        "rates": {"single": dict(generator.single_rates), "sequential": dict(generator.sequential_rates)},
        "seed": seed,
        "n": len(sit_records),
        "summary": run.summary,
        "table4": table4,
        "answers": {
            "n_gold": sum(r["answer_ok"] is not None for r in sit_records),
            "n_correct": sum(bool(r["answer_ok"]) for r in sit_records),
            "n_changed": sum(
                new["instruction"] != old["instruction"] for new, old in zip(sit_records, records, strict=True)
            ),
            "n_steps": dict(sorted(Counter(r["n_steps"] for r in sit_records if "n_steps" in r).items())),
        },
        "client": {k: round(v, 3) if isinstance(v, float) else v for k, v in vars(client.totals).items()},
    }
    return sit_records, stats


if __name__ == "__main__":
    raise SystemExit(main())
