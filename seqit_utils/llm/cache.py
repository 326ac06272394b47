"""The persistent request cache of `seqit_utils.llm.client`: one SQLite file, one row per finished request.

A row is written and committed as soon as its response arrives, so a run killed at any point keeps every answer it
had received. WAL mode lets readers and one writer at a time proceed together; `busy_timeout` makes concurrent
writers (other connections in this process, or other processes) wait for the lock instead of failing. With
`synchronous=NORMAL` a commit survives the process being killed (it is in the OS's page cache); only a power loss
can drop the last commits, which then are simply requested again.

Rows hold the request (model, messages, sampling parameters) and the response; never the API key or the base URL.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from seqit_utils.io import stable_hash

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
)
"""
KEY_VERSION = 1  # bump when the meaning of a cached request changes (then old rows are simply not found)


def request_key(request: dict[str, Any]) -> str:
    """The cache key: a hash of the canonical JSON of (model, messages, sampling parameters) and `KEY_VERSION`."""
    return stable_hash({"v": KEY_VERSION, **request})


class ResponseCache:
    """Finished responses by request key, in the SQLite file `path` (created with its folder if missing).

    One object per thread (sqlite3 connections are not shared across threads); any number of objects and
    processes may use the same file at once.
    """

    def __init__(self, path: str | Path, timeout: float = 60.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit mode (isolation_level=None): every statement below is its own committed transaction
        self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        self._db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        self._set_wal(timeout)
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute(SCHEMA)

    def _set_wal(self, timeout: float) -> None:
        # Switching a new file to WAL needs an exclusive lock, and SQLite answers "database is locked" at once
        # (no busy handler) when another process is opening the same new file: retry until `timeout`.
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r})"

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The cached responses among `keys` (missing keys are absent from the result)."""
        keys, found = list(dict.fromkeys(keys)), {}
        for start in range(0, len(keys), 500):  # SQLite caps the number of bound parameters per statement
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, response in self._db.execute(
                f"SELECT key, response FROM responses WHERE key IN ({marks})", chunk
            ):
                found[key] = json.loads(response)
        return found

    def put(self, key: str, request: dict[str, Any], response: dict[str, Any]) -> None:
        """Store one finished response; committed before this returns."""
        self._db.execute(
            "INSERT OR REPLACE INTO responses (key, request, response, created) VALUES (?, ?, ?, ?)",
            (key, json.dumps(request, ensure_ascii=False), json.dumps(response, ensure_ascii=False), time.time()),
        )

    def keys(self) -> set[str]:
        """Every stored key."""
        return {key for (key,) in self._db.execute("SELECT key FROM responses")}

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
