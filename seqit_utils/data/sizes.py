"""Known sizes of the paper's training sets, and a check that refuses a sample where the full set is meant.

With `$SEQIT_DATA_DIR` set, local files win over the hub; a folder holding a sample (e.g. the 750-record
`alpaca_data_1k.json`) would silently replace the 52K set. `check_size` compares the records a loader returned with
the published count and refuses a set much smaller than it unless the params say `allow_sample: true` (issue 18).
The data stage (`seqit_utils.data.prepare.load_datasets`) calls `check_spec` for every `data.datasets` entry.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqit_utils.data.sources import DATA_DIR_ENV

if TYPE_CHECKING:
    from seqit_utils.config import DatasetSpec

PathArg = str | Path | None
# Fewer records than 90% of the published count is a sample, not a cleaned variant (Alpaca 52,002 vs 51,760).
MIN_FRACTION = 0.9


@dataclass(frozen=True)
class Known:
    """A published training set: its record count, where to place its file, its hub id, and where that was checked."""

    records: int
    folder: str
    filename: str
    hub: str | None
    checked: str


KNOWN: dict[str, Known] = {
    "alpaca": Known(
        52_002, "alpaca", "alpaca_data.json", "tatsu-lab/alpaca", "52,002 rows: a datasets build of alpaca_data.json"
    ),
    "alpaca_cleaned": Known(
        51_760, "alpaca_cleaned", "alpaca_data_cleaned.json", "yahma/alpaca-cleaned", "hub viewer 51.8k (51,760)"
    ),
    "flancot": Known(100_000, "flancot", "flancot100k.jsonl", None, "SeqIns generation_flancot_full_llama_70b.sh"),
    "tulu_v2": Known(
        326_154, "tulu_v2", "tulu_v2_data.jsonl", "allenai/tulu-v2-sft-mixture", "card: train 326,154 examples"
    ),
    "metamath": Known(395_000, "metamath", "MetaMathQA-395K.json", "meta-math/MetaMathQA", "card: 395K"),
    # The authors' released Seq-Instruct SIT (HF collection "Sequential Instruction Datasets", HanxuHU).
    "seqins_alpaca": Known(51_760, "seqins", "", "HanxuHU/Alpaca_52k_seq", "hub viewer 51.8k; file name not seen"),
    "seqins_flancot": Known(
        100_000, "seqins", "flancot_100k-iteration_2.jsonl", "HanxuHU/FlanCoT_100k_seq", "hub file list, viewer 100k"
    ),
    "seqins_tulu": Known(
        100_000, "seqins", "tuluv2_100k_sit.jsonl", "HanxuHU/tuluv2_100k_seq", "hub file list, viewer 100k"
    ),
}


class DatasetTooSmallError(ValueError):
    """A training set much smaller than its published size; the message names the file, counts and the fix."""


def check_size(
    dataset: str,
    records: Sequence[dict],
    allow_sample: bool,
    *,
    options: Mapping[str, Any] | None = None,
    wanted: int | None = None,
    source: str = "",
    key: str = "",
) -> None:
    """Refuse a training set of fewer than 90% of min(published size, `wanted`) records unless `allow_sample`.

    `dataset` is a loader name (see KNOWN; unknown names pass); `wanted` = the params' limit/sample; `source` = the
    file read, `key` = the params key, both for the message.
    """
    known = _known(dataset, options or {})
    if known is None or allow_sample:
        return
    if len(records) >= MIN_FRACTION * (known.records if wanted is None else min(known.records, wanted)):
        return
    where = f" read from {source}" if source else ""
    asked = f" ({wanted:,} asked for)" if wanted is not None and wanted < known.records else ""
    hub = f"hub {known.hub!r}" if known.hub else "no hub copy"
    option = " and set options: {filename: alpaca_data.json}" if dataset == "alpaca" else ""
    name = known.filename or f"file of {known.hub}"
    use_hub = f" (or leave it out of ${DATA_DIR_ENV} to use the {hub})" if known.hub else ""
    raise DatasetTooSmallError(
        f"dataset {dataset!r}: {len(records):,} records{where}, but the published set has {known.records:,}{asked} "
        f"(file {name}, {hub}; {known.checked}): this looks like a sample, and training on it would not reproduce "
        f"the paper. Fix: place the full {name} at ${DATA_DIR_ENV}/{known.folder}/{name}{option}{use_hub}, "
        f"or set allow_sample: true in the params{' at ' + key if key else ''} to train on it anyway"
    )


def check_spec(name: str, spec: DatasetSpec, records: Sequence[dict], data_dir: PathArg) -> None:
    """`check_size` for one `data.datasets` entry: wanted = its limit / options.sample; the file it was read from."""
    sizes = [n for n in (spec.limit, spec.options.get("sample")) if isinstance(n, int)]
    known = _known(spec.loader, spec.options)
    source = "" if known is None else _describe(known, spec, data_dir)
    check_size(
        spec.loader, records, spec.allow_sample, options=spec.options, wanted=min(sizes) if sizes else None,
        source=source, key=f"data.datasets.{name}",
    )  # fmt: skip


def _known(loader: str, options: Mapping[str, Any]) -> Known | None:
    return KNOWN.get(f"seqins_{options.get('name', 'flancot')}" if loader == "seqins_released" else loader)


def _describe(known: Known, spec: DatasetSpec, data_dir: PathArg) -> str:
    """The file a loader read for `spec` (explicit path, then the data folder), else the hub copy it fell back to."""
    if spec.path:
        return spec.path
    from seqit_utils.data.loaders import LOADERS  # lazy: loaders registers sft_sources, which imports this module

    default = inspect.signature(LOADERS[spec.loader]).parameters.get("filename")
    filename = str(spec.options.get("filename") or (default.default if default else "") or known.filename)
    folder = data_dir or os.environ.get(DATA_DIR_ENV)
    candidate = Path(folder).expanduser() / known.folder / filename if folder else None
    return str(candidate) if candidate and candidate.is_file() else f"Hugging Face hub {known.hub!r}"
