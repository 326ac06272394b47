"""One client for every chat-LLM call of the pipeline (Seq-Instruct rewriting and answering §2.2, the SeqEval judge
§3): transport, concurrency, retries and the request cache live here; building messages and parsing replies are pure
functions elsewhere (STYLE: distilabel's format_input → client → format_output).

- Any OpenAI-compatible endpoint (OpenAI, vLLM, `transformers serve` — see `seqit_utils.llm.serve`), through the
  `openai` package's `AsyncOpenAI`; at most `concurrency` requests in flight.
- Retries with exponential backoff and jitter on 408/409/429/5xx, timeouts, connection errors and malformed
  response bodies, honouring `Retry-After`. The `openai` package's own retries are switched off, so every request
  sent is counted. Other errors (400, 401, 404, ...) are final at once.
- A persistent cache (`seqit_utils.llm.cache`) keyed by a hash of (model, messages, sampling parameters): a re-run
  sends no request, and a run killed at any point resumes without repeating a finished request, because each
  answer is committed to the cache as soon as it arrives. Failures are never cached.
- A failure after the last retry is returned as that item's `Result` with `error` set, never dropped. The one
  exception: an endpoint that does not answer at all. The first request of a batch goes alone; if it gets no answer
  (connection refused or closed, timeouts) or a refusal that every request would get (401, 403, 404) after its
  retries, `EndpointError` names the URL before anything else is sent (otherwise every item would fail and the
  stages would carry on: Seq-Instruct "holds" every instruction, the judge finds every reply unparseable).
- The API key is read from the environment variable named `api_key_env` when a batch runs and is never stored:
  not on the client, in the cache, in results, logs or error messages (a server echoing it back is redacted).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from tqdm.auto import tqdm

from seqit_utils.evaluate.generate import api_key
from seqit_utils.llm.cache import ResponseCache, request_key

logger = logging.getLogger(__name__)
Messages = list[dict[str, Any]]
RETRY_STATUS = frozenset({408, 409, 429})  # and every 5xx
CACHED = ("text", "finish_reason", "prompt_tokens", "completion_tokens")  # the `Result` fields kept in the cache
T = TypeVar("T")


class Sampling(BaseModel):
    """Sampling parameters sent with every request (OpenAI names). Greedy by default: the paper's setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(default=0.0, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int = Field(default=1024, gt=0)
    seed: int | None = None
    stop: list[str] | None = None


@dataclass(frozen=True)
class Result:
    """The outcome of one request: `text` on success, else `error` (the last attempt's error, key redacted)."""

    text: str | None = None
    error: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False  # answered from the cache: no request was sent
    attempts: int = 0  # requests sent for it in this run
    key: str = ""  # the cache key

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Stats:
    """Counts of one batch. `requests` counts every HTTP request sent, retries included."""

    items: int = 0
    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"llm: {self.items} items in {self.seconds:.1f} s: {self.requests} requests sent, {self.cache_hits} cache "
            f"hits, {self.retries} retries, {self.failures} failures, {self.prompt_tokens} prompt + "
            f"{self.completion_tokens} completion tokens"
        )


class LLMError(RuntimeError):
    """Raised by `LLMClient.complete_text` when items failed after their last retry."""


class EndpointError(LLMError):
    """The endpoint does not answer, or refuses every request (see the module docstring)."""


# Final errors of a first request that mean no request of the batch can succeed (openai exception names).
NO_ANSWER = ("APIConnectionError", "APITimeoutError", "AuthenticationError", "PermissionDeniedError", "NotFoundError")


def user_messages(prompt: str, system: str | None = None) -> Messages:
    """A one-turn conversation: an optional system message, then `prompt` as the user message."""
    return ([{"role": "system", "content": system}] if system is not None else []) + [
        {"role": "user", "content": prompt}
    ]


class LLMClient:
    """Chat completions from an OpenAI-compatible endpoint; see the module docstring.

    `sampling` is a `Sampling` or a dict of its fields. `cache` is the SQLite file of the request cache (None: no
    cache). Backoff before retry k (k = 0, 1, ...) is `backoff * 2**k` seconds, capped at `backoff_max`, times a
    random factor in [0.5, 1]; a server's `Retry-After` overrides it (also capped at `backoff_max`).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        sampling: Sampling | dict[str, Any] | None = None,
        concurrency: int = 16,
        timeout: float = 120.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        backoff_max: float = 60.0,
        cache: str | Path | None = None,
        progress: bool = True,
    ):
        for name, value, low in (("concurrency", concurrency, 1), ("max_retries", max_retries, 0)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
        self.base_url, self.model, self.api_key_env = base_url, model, api_key_env
        self.sampling = sampling if isinstance(sampling, Sampling) else Sampling(**(sampling or {}))
        self.concurrency, self.timeout, self.max_retries = concurrency, timeout, max_retries
        self.backoff, self.backoff_max, self.progress = backoff, backoff_max, progress
        self.cache = Path(cache) if cache is not None else None
        self.stats = Stats()  # of the last batch
        self.totals = Stats()  # of every batch of this client
        self._rng = random.Random()  # backoff jitter only: it decides when a request is sent, never what comes back

    def __repr__(self) -> str:  # names the variable, never its value
        return (
            f"LLMClient(base_url={self.base_url!r}, model={self.model!r}, api_key_env={self.api_key_env!r}, "
            f"sampling={self.sampling!r}, concurrency={self.concurrency}, cache={self.cache!r})"
        )

    def request(self, messages: Messages) -> dict[str, Any]:
        """The request body for one conversation; its hash is the cache key (no key, no URL in it)."""
        if isinstance(messages, str) or not all(isinstance(m, dict) and "role" in m for m in messages):
            raise TypeError("a conversation is a list of {'role': ..., 'content': ...} dicts; see user_messages()")
        return {"model": self.model, "messages": list(messages), **self.sampling.model_dump(exclude_none=True)}

    def complete(self, conversations: Sequence[Messages]) -> list[Result]:
        """One `Result` per conversation, in input order (blocking; works inside Jupyter's running event loop)."""
        return _run_sync(self.acomplete(conversations))

    def complete_text(self, prompts: Sequence[str], system: str | None = None) -> list[str]:
        """The reply text to each prompt (sent as one user message); raises `LLMError` if any item failed.

        Finished items are cached before the error is raised, so running again requests only the failed ones.
        """
        results = self.complete([user_messages(p, system) for p in prompts])
        failed = [i for i, r in enumerate(results) if not r.ok]
        if failed:
            shown = ", ".join(map(str, failed[:10])) + (", ..." if len(failed) > 10 else "")
            raise LLMError(
                f"{len(failed)} of {len(results)} requests failed after retries (items {shown}); "
                f"first error: {results[failed[0]].error}"
            )
        return [r.text or "" for r in results]

    async def acomplete(self, conversations: Sequence[Messages]) -> list[Result]:
        """Async version of `complete`."""
        start, stats = time.perf_counter(), Stats(items=len(conversations))
        self.stats = stats
        requests = [self.request(m) for m in conversations]
        keys = [request_key(r) for r in requests]
        cache = ResponseCache(self.cache) if self.cache is not None else None
        try:
            done = {k: Result(**v, cached=True, key=k) for k, v in (cache.get_many(keys) if cache else {}).items()}
            stats.cache_hits = sum(k in done for k in keys)
            todo = {k: r for k, r in zip(keys, requests, strict=True) if k not in done}  # duplicates sent once
            if todo:  # a fully cached run needs no key (a reviewer re-running from the cache may have none)
                await self._send_all(todo, done, Counter(keys), cache, stats)
        finally:
            if cache is not None:
                cache.close()
        results = [done[k] for k in keys]
        stats.failures = sum(not r.ok for r in results)
        stats.seconds = time.perf_counter() - start
        for field in fields(Stats):
            name = field.name
            setattr(self.totals, name, getattr(self.totals, name) + getattr(stats, name))
        logger.info(stats.summary())
        if self.progress:
            print(stats.summary(), file=sys.stderr)
        return results

    async def _send_all(
        self,
        todo: dict[str, dict[str, Any]],
        done: dict[str, Result],
        copies: Counter[str],
        cache: ResponseCache | None,
        stats: Stats,
    ) -> None:
        from openai import AsyncOpenAI

        secret = api_key(self.api_key_env, self.base_url)
        # max_retries=0: our loop retries, so that each request sent is counted and backoff is ours
        client = AsyncOpenAI(base_url=self.base_url, api_key=secret, timeout=self.timeout, max_retries=0)
        slots = asyncio.Semaphore(self.concurrency)
        bar = tqdm(total=stats.items, initial=stats.cache_hits, desc="llm", unit="req", disable=not self.progress)

        async def run(key: str, request: dict[str, Any]) -> None:
            async with slots:
                done[key] = await self._send(client, request, key, secret, stats)
            if cache is not None and done[key].ok:  # committed now: a kill cannot lose it
                cache.put(key, request, {f: getattr(done[key], f) for f in CACHED})
            bar.update(copies[key])

        try:
            (first, request), *rest = todo.items()
            await run(first, request)  # alone: an endpoint that does not answer fails once, not once per item
            error = done[first].error
            if error is not None and error.split(":")[0] in NO_ANSWER:
                raise EndpointError(
                    f"the LLM endpoint {self.base_url} (model {self.model!r}) did not answer after "
                    f"{done[first].attempts} attempt(s): {error}. Start the server, or fix the endpoint's base_url, "
                    f"model or key (environment variable {self.api_key_env}) in params `llm.endpoints`"
                )
            await asyncio.gather(*(run(k, r) for k, r in rest))
        finally:
            bar.close()
            await client.close()

    async def _send(self, client: Any, request: dict[str, Any], key: str, secret: str, stats: Stats) -> Result:
        """One request with retries; never raises (a final failure is a `Result` with `error`)."""
        for attempt in range(self.max_retries + 1):
            stats.requests += 1
            stats.retries += int(attempt > 0)
            try:
                result = _parse(await client.chat.completions.create(**request), attempt + 1, key)
                stats.prompt_tokens += result.prompt_tokens
                stats.completion_tokens += result.completion_tokens
                return result
            except Exception as exc:  # every failure becomes this item's error; nothing escapes or is dropped
                error = _redact(f"{type(exc).__name__}: {exc}", secret)
                if attempt == self.max_retries or not _retryable(exc):
                    logger.warning("llm request %s failed after %d attempt(s): %s", key[:12], attempt + 1, error)
                    return Result(error=error, attempts=attempt + 1, key=key)
                delay = min(self.backoff_max, self.backoff * 2**attempt) * self._rng.uniform(0.5, 1.0)
                wait = _retry_after(exc)
                logger.debug("llm request %s, attempt %d: %s; retrying", key[:12], attempt + 1, error)
                await asyncio.sleep(min(self.backoff_max, wait) if wait is not None else delay)
        raise AssertionError("unreachable")


def _parse(completion: Any, attempts: int, key: str) -> Result:
    """The `Result` of a completion; a ValueError when the body is valid JSON of the wrong shape."""
    try:
        choice, usage = completion.choices[0], completion.usage
        text = choice.message.content or ""
        if not isinstance(text, str):
            raise TypeError(f"content is a {type(text).__name__}")
        tokens = [int(getattr(usage, name, 0) or 0) for name in ("prompt_tokens", "completion_tokens")]
    except (AttributeError, IndexError, KeyError, TypeError) as exc:
        raise ValueError(f"malformed response ({type(exc).__name__}: {exc})") from None
    finish = choice.finish_reason if isinstance(choice.finish_reason, str) else None
    return Result(text, None, finish, *tokens, attempts=attempts, key=key)


def _retryable(exc: Exception) -> bool:
    import openai

    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUS or exc.status_code >= 500
    # timeouts and resets (APITimeoutError is an APIConnectionError); a body that is not the promised JSON
    return isinstance(exc, (openai.APIConnectionError, openai.APIResponseValidationError, ValueError))


def _retry_after(exc: Exception) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, or `Retry-After` in seconds or as an HTTP date)."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if value is None:
            continue
        try:
            return max(0.0, float(value) / scale)
        except ValueError:
            pass
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    return None


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret and secret != "EMPTY" else text


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:  # a loop already runs in this thread (Jupyter): use another
        return pool.submit(asyncio.run, coro).result()
