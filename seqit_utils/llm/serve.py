"""A local OpenAI-compatible endpoint: `transformers serve` in a subprocess, for the smoke/sample profiles (DESIGN:
profiles). Any other OpenAI-compatible server (vLLM, OpenAI) is used the same way through `seqit_utils.llm.client`.

    with transformers_serve("outputs/smoke/models/tiny") as endpoint:
        client = LLMClient(endpoint.base_url, endpoint.model)

DESIGN's known traps, handled here: without `--continuous-batching` the server runs one generation at a time; the
server's `/v1/models` fails unless `HF_HUB_CACHE` exists; OpenMP threads must be capped (`OMP_NUM_THREADS`) or
a busy 2-core machine slows to a crawl. One more, found here: on CPU, continuous batching sizes its paged KV cache
at 60-90% of the machine's RAM unless told otherwise (the first request then waits ~20 s while it is allocated, and
the RAM is gone), so on CPU we fix its size (`cb_num_blocks` blocks of 256 tokens, `cb_max_batch_tokens`).

The model is preloaded (`force_model`), so the endpoint serves exactly that model under exactly the name given, and
`/health` answers only once it is loaded.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# The CLI's own entry point, run by this interpreter (a `transformers` script need not be on PATH).
CLI = "from transformers.cli.transformers import main; main()"


@dataclass(frozen=True)
class Endpoint:
    """Where a running server answers: pass `base_url` and `model` to `seqit_utils.llm.client.LLMClient`."""

    base_url: str
    model: str
    pid: int  # the server process


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen, grace: float) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def transformers_serve(
    model: str | Path,
    *,
    continuous_batching: bool = True,
    device: str = "cpu",
    dtype: str = "float32",
    threads: int = 1,
    cb_num_blocks: int | None = 32,
    cb_max_batch_tokens: int | None = 512,
    offline: bool = True,
    startup_timeout: float = 300.0,
    extra_args: Sequence[str] = (),
    log_path: str | Path | None = None,
) -> Iterator[Endpoint]:
    """Run `transformers serve <model>` on a free loopback port until the block ends; yields its `Endpoint`.

    `model` is a local model directory (or, with `offline=False`, a hub id). fp32 on CPU by default (DESIGN: bf16 is
    slower there). `cb_num_blocks` (x 256 tokens of KV cache) and `cb_max_batch_tokens` (tokens per forward pass)
    size continuous batching on CPU; None, and on other devices, leaves the sizing to transformers.

    The server's stdout and stderr go to `log_path` (default: a temporary file); if the server exits or is not
    healthy within `startup_timeout` seconds, a RuntimeError quotes the end of that log. On exit the server is
    terminated (killed if it has not stopped 15 s later).
    """
    import huggingface_hub.constants

    model = str(Path(model).resolve()) if Path(model).exists() else str(model)
    hub_cache = Path(os.environ.get("HF_HUB_CACHE") or huggingface_hub.constants.HF_HUB_CACHE)
    hub_cache.mkdir(parents=True, exist_ok=True)  # DESIGN trap: /v1/models scans it and fails when it is missing
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
    env["HF_HUB_CACHE"] = str(hub_cache)
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    port = free_port()
    command = [sys.executable, "-c", CLI, "serve", model, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--device", device, "--dtype", dtype, "--log-level", "warning"]
    if continuous_batching:
        command.append("--continuous-batching")
        if device == "cpu":  # 32 x 256 = 8,192 tokens of KV cache: plenty for the tiny models, ~0.2 GB for a 0.5B
            sizes = {"--cb-num-blocks": cb_num_blocks, "--cb-max-batch-tokens": cb_max_batch_tokens}
            command += [str(x) for flag, value in sizes.items() if value is not None for x in (flag, value)]
    command += list(extra_args)

    with tempfile.TemporaryDirectory(prefix="seqit-serve-") as tmp:
        log = Path(log_path) if log_path is not None else Path(tmp) / "server.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as log_file:
            process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + startup_timeout
            while not _healthy(f"http://127.0.0.1:{port}/health"):
                if process.poll() is not None:
                    raise RuntimeError(
                        f"transformers serve {model} exited with code {process.returncode} before it was ready; "
                        f"end of its log ({log}):\n{_tail(log)}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"transformers serve {model} was not healthy after {startup_timeout:.0f} s; "
                        f"end of its log ({log}):\n{_tail(log)}"
                    )
                time.sleep(0.25)
            yield Endpoint(f"http://127.0.0.1:{port}/v1", model, process.pid)
        finally:
            _stop(process, grace=15.0)
