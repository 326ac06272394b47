"""Find a dataset file and read it in its published format; report what is missing or malformed, precisely.

Resolution order (DESIGN.md, "Data sources"): an explicit `path` → `<data_dir>/<dataset>/<filename>` (`data_dir`
defaults to `$SEQIT_DATA_DIR`) → the dataset's Hugging Face hub copy, if it has one. Converting records to seqit's
schema is the job of `seqit_utils.data.loaders`; this module only locates, parses and checks fields.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

DATA_DIR_ENV = "SEQIT_DATA_DIR"
OFFLINE_ENVS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
_FALSE = ("", "0", "false", "no", "off")  # values of an offline variable that mean "online"
_MISSING = object()


class DataNotFoundError(FileNotFoundError):
    """No local file and no usable hub copy; the message lists every place tried and how to fix it."""


class MalformedRecordError(ValueError):
    """A record lacks the published shape; the message names the file, line or record index, and the field."""


class Row(NamedTuple):
    """One published record (`data`) and where it came from (`where`, e.g. "<file>, line 3"), for error messages."""

    where: str
    data: Any


@dataclass(frozen=True)
class HubSource:
    """A Hugging Face hub copy of a dataset; `adapt` turns its rows into the records of the published file."""

    repo_id: str
    config: str | None
    split: str
    adapt: Callable[[list[dict[str, Any]]], list[Any]]

    def describe(self) -> str:
        """The hub id, config and split, as shown in messages."""
        config = f"config {self.config!r}, " if self.config else ""
        return f"Hugging Face hub {self.repo_id!r} ({config}split {self.split!r})"


def resolve_file(
    dataset: str,
    filename: str,
    *,
    path: str | Path | None = None,
    data_dir: str | Path | None = None,
    hub: HubSource | None = None,
) -> Path | HubSource:
    """The local file to read, or `hub` when neither `path` nor the data folder has it and the hub may be used.

    Raises DataNotFoundError when an explicit `path` does not exist (it is never silently replaced by another
    source), and when there is no local file and no usable hub copy.
    """
    if path is not None:
        if Path(path).expanduser().is_file():
            return Path(path).expanduser()
        raise DataNotFoundError(
            f"dataset {dataset!r}: the explicit path={str(path)!r} does not exist or is not a file; an explicit path"
            f" is never replaced by {DATA_DIR_ENV} or the hub.\n{_fix(dataset, filename)}"
        )
    candidate = _data_dir_candidate(dataset, filename, data_dir)
    if candidate is not None and candidate.is_file():
        return candidate
    offline = [name for name in OFFLINE_ENVS if os.environ.get(name, "").strip().lower() not in _FALSE]
    if hub is None:
        raise DataNotFoundError(_not_found(dataset, filename, data_dir, "this dataset has no hub copy"))
    if offline:
        reason = f"not tried, {hub.describe()}: {'/'.join(offline)} is set (offline)"
        raise DataNotFoundError(_not_found(dataset, filename, data_dir, reason))
    return hub


def read_rows(
    dataset: str,
    filename: str,
    *,
    path: str | Path | None = None,
    data_dir: str | Path | None = None,
    hub: HubSource | None = None,
) -> list[Row]:
    """Resolve (see `resolve_file`) and read the published records; hub rows go through `hub.adapt` first."""
    source = resolve_file(dataset, filename, path=path, data_dir=data_dir, hub=hub)
    if isinstance(source, Path):
        return read_file(source)
    try:
        import datasets  # lazy: heavy, and only needed when no local file exists

        hub_rows = [dict(row) for row in datasets.load_dataset(source.repo_id, source.config, split=source.split)]
    except Exception as err:  # any hub failure (network, auth, unknown config) means: not found here
        reason = f"{source.describe()} failed: {type(err).__name__}: {err}"
        raise DataNotFoundError(_not_found(dataset, filename, data_dir, reason)) from err
    return [Row(f"{source.describe()}, row {i}", record) for i, record in enumerate(source.adapt(hub_rows))]


def read_file(path: str | Path) -> list[Row]:
    """Read a .json (list → one row per element, object → one row), .jsonl or .tsv file, each optionally .gz."""
    path = Path(path)
    kind = path.name.removesuffix(".gz").rsplit(".", 1)[-1]
    if kind not in ("json", "jsonl", "tsv"):
        raise ValueError(f"{path}: unknown file format {kind!r}; expected .json, .jsonl or .tsv (optionally .gz)")
    with gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8") as handle:
        if kind == "json":
            return _json_rows(path, handle.read())
        if kind == "jsonl":
            return _jsonl_rows(path, handle)
        # Headerless TSV (MGSM): one list of column strings per non-blank line.
        lines = enumerate(handle, start=1)
        return [Row(f"{path}, line {n}", line.rstrip("\r\n").split("\t")) for n, line in lines if line.strip()]


def field(row: Row, name: str, kind: type | tuple[type, ...] = str, *, default: Any = _MISSING) -> Any:
    """`row.data[name]`, checked to be a `kind`; `default` (if given) replaces a missing field.

    Raises MalformedRecordError naming the file, line or record index, and the field.
    """
    if not isinstance(row.data, dict):
        raise MalformedRecordError(
            f"{row.where}: expected a JSON object with field {name!r}, got {type(row.data).__name__}; "
            "hint: check that the file is the published one for this loader"
        )
    if name not in row.data:
        if default is not _MISSING:
            return default
        raise MalformedRecordError(
            f"{row.where}: field {name!r} is missing (the record has {sorted(row.data)}); "
            "hint: check that the file is the published one for this loader"
        )
    value = row.data[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        wanted = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise MalformedRecordError(
            f"{row.where}: field {name!r} should be {wanted}, got {type(value).__name__} {repr(value)[:60]}; "
            "hint: fix that record or use the published file"
        )
    return value


def _json_rows(path: Path, text: str) -> list[Row]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise MalformedRecordError(
            f"{path}, line {err.lineno} column {err.colno}: invalid JSON ({err.msg}); "
            "hint: a .json file holds one JSON document (a list or an object); one record per line needs .jsonl"
        ) from err
    if isinstance(obj, list):
        return [Row(f"{path}, record index {i}", record) for i, record in enumerate(obj)]
    return [Row(str(path), obj)]


def _jsonl_rows(path: Path, handle: IO[str]) -> list[Row]:
    rows = []
    for n, line in enumerate(handle, start=1):
        if not line.strip():
            continue  # blank lines carry no record
        try:
            rows.append(Row(f"{path}, line {n}", json.loads(line)))
        except json.JSONDecodeError as err:
            raise MalformedRecordError(
                f"{path}, line {n} column {err.colno}: invalid JSON ({err.msg}); "
                "hint: each non-blank line of a .jsonl file must be one complete JSON object"
            ) from err
    return rows


def _data_dir_candidate(dataset: str, filename: str, data_dir: str | Path | None) -> Path | None:
    folder = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    return None if folder is None else Path(folder).expanduser() / dataset / filename


def _not_found(dataset: str, filename: str, data_dir: str | Path | None, hub_reason: str) -> str:
    candidate = _data_dir_candidate(dataset, filename, data_dir)
    if data_dir is not None:
        local = f"data_dir={str(data_dir)!r}: {candidate} does not exist"
    elif candidate is not None:
        local = f"{DATA_DIR_ENV}={os.environ[DATA_DIR_ENV]!r}: {candidate} does not exist"
    else:
        local = f"{DATA_DIR_ENV} is unset (and no data_dir was given), so no local folder was searched"
    return (
        f"dataset {dataset!r}: could not find {filename!r}. Tried, in order:\n"
        f"  1. explicit path: none given\n  2. {local}\n  3. hub: {hub_reason}\n{_fix(dataset, filename)}"
    )


def _fix(dataset: str, filename: str) -> str:
    return (
        f"Fix: pass path=... or set {DATA_DIR_ENV} to a folder containing {dataset}/{filename}, "
        f"e.g. {DATA_DIR_ENV}=../shared/data"
    )
