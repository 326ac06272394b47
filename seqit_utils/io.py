"""Atomic file writes, JSONL for our own outputs, and provenance for metrics files.

Published dataset formats are read in `seqit_utils.data.sources`; this module only handles files that seqit writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import IO, Any

# Packages whose versions decide what a run produces; recorded in every provenance block.
PROVENANCE_PACKAGES = (
    "seqit",
    "torch",
    "transformers",
    "peft",
    "trl",
    "datasets",
    "tokenizers",
    "openai",
    "papermill",
    "dvc",
)


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file next to `path`; rename it over `path` only if the block finishes.

    A crash or an exception inside the block leaves any previous `path` untouched and no partial file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the permissions open() would
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside `path`; on success it replaces `path` whole (stale files vanish).

    On an exception the temporary folder is removed and any previous `path` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp creates 0700
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = path.with_name(f".{path.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    shutil.rmtree(old, ignore_errors=True)


# Loading options transformers keeps in a tokenizer's `init_kwargs` and writes back into tokenizer_config.json:
# `local_files_only` follows HF_HUB_OFFLINE, so the same model saved from two shells would differ byte for byte.
_LOAD_OPTIONS = ("local_files_only",)


def save_pretrained(obj: Any, out_dir: str | Path) -> None:
    """`obj.save_pretrained(out_dir)` for a tokenizer or processor, without the loading options of its tokenizers
    (`_LOAD_OPTIONS`), so the saved files depend only on the model, not on the environment it was loaded in."""
    for tokenizer in (obj, getattr(obj, "tokenizer", None), getattr(obj, "qformer_tokenizer", None)):
        options = getattr(tokenizer, "init_kwargs", None)
        for key in _LOAD_OPTIONS if isinstance(options, dict) else ():
            options.pop(key, None)
    obj.save_pretrained(out_dir)


def write_text(path: str | Path, text: str) -> Path:
    """Atomically write `text` to `path`."""
    with atomic_open(path) as handle:
        handle.write(text)
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    """Atomically write `obj` as indented, key-sorted UTF-8 JSON (stable bytes for DVC)."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Atomically write records one JSON object per line; returns the number written."""
    n = 0
    with atomic_open(path) as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            n += 1
    return n


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL file written by seqit; a bad line raises ValueError naming file and line."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({err.msg}); fix or delete that line") from err
    return records


def stable_hash(obj: Any) -> str:
    """SHA-256 of the canonical JSON form of `obj` (key order and whitespace do not matter)."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions(names: Iterable[str] = PROVENANCE_PACKAGES) -> dict[str, str | None]:
    """Installed versions of `names` (None when a package is absent)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The current git commit (suffixed `-dirty` when the tree has changes), or None outside a repository."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def provenance(params: dict[str, Any], seeds: int | list[int]) -> dict[str, Any]:
    """The provenance block stored next to every metrics file: params (and their hash), seeds, versions, commit."""
    return {
        "params": params,
        "params_hash": stable_hash(params),
        "seeds": seeds if isinstance(seeds, list) else [seeds],
        "packages": package_versions(),
        "python": platform.python_version(),
        "git_commit": git_commit(),
    }


def write_metrics(path: str | Path, metrics: dict[str, Any], params: dict[str, Any], seeds: int | list[int]) -> Path:
    """Write `outputs/<profile>/metrics/<name>.json`: the metrics plus a `provenance` object."""
    if "provenance" in metrics:
        raise ValueError("metrics must not carry their own 'provenance' key; it is added by write_metrics")
    return write_json(path, {**metrics, "provenance": provenance(params, seeds)})
