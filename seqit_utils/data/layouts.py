"""Small files in the published layouts of the training sources that are not on this machine (multilingual Alpaca,
FlanCoT, Tulu-V2, MetaMathQA, the authors' released Seq-Instruct SIT), written under a data folder exactly where
`$SEQIT_DATA_DIR` would hold them (`sizes.KNOWN`: folder and file name). The loader tests and `seqit dry-run` use
them as *synthetic stand-ins*: their text comes from the records given (e.g. the real Alpaca sample), their
"translations" are marked copies ("<de> ..."); they check loaders and wiring, never results.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seqit_utils.data.sizes import KNOWN

Record = dict[str, Any]


def _dump(path: Path, rows: list[dict], *, lines: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) if lines else json.dumps(rows, indent=4)
    path.write_text(text, encoding="utf-8")
    return path


def write_multilingual(root: str | Path, english: Sequence[Record], langs: Sequence[str]) -> Path:
    """HPLT's layout: `alpaca_multilingual/alpaca_data_cleaned.<lang>.json`, JSON lists of instruction / input /
    output aligned by index with the English file; each language's text is the English marked "<lang> "."""
    folder = Path(root) / "alpaca_multilingual"
    rows = [{k: r.get(k, "") for k in ("instruction", "input", "output")} for r in english]
    _dump(folder / "alpaca_data_cleaned.en.json", rows, lines=False)
    for lang in langs:
        marked = [{k: (f"<{lang}> {v}" if v else v) for k, v in r.items()} for r in rows]
        _dump(folder / f"alpaca_data_cleaned.{lang}.json", marked, lines=False)
    return folder


def write_flancot(root: str | Path, records: Sequence[Record]) -> Path:
    """The authors' `flancot/flancot100k.jsonl`: system_prompt, question, response."""
    rows = [
        {
            "system_prompt": "You are an AI assistant. Think step by step.",
            "question": _user(r),
            "response": r["output"],
        }
        for r in records
    ]
    return _dump(Path(root) / KNOWN["flancot"].folder / KNOWN["flancot"].filename, rows, lines=True)


def write_tulu_v2(root: str | Path, records: Sequence[Record]) -> Path:
    """The hub rows of allenai/tulu-v2-sft-mixture as JSONL (dataset, id, messages): every third conversation has a
    system turn, every fourth a second user / assistant exchange."""
    rows = []
    for i, r in enumerate(records):
        messages = [{"role": "user", "content": _user(r)}, {"role": "assistant", "content": r["output"]}]
        if i % 3 == 0:
            messages.insert(0, {"role": "system", "content": "You are a helpful assistant."})
        if i % 4 == 0:
            messages += [
                {"role": "user", "content": "Say it shorter."},
                {"role": "assistant", "content": "In short: yes."},
            ]
        rows.append({"dataset": "synthetic_standin", "id": f"standin_{i}", "messages": messages})
    return _dump(Path(root) / KNOWN["tulu_v2"].folder / KNOWN["tulu_v2"].filename, rows, lines=True)


def write_metamath(root: str | Path, records: Sequence[Record]) -> Path:
    """MetaMathQA's JSON list: query, response, type, original_question."""
    rows = [{"query": _user(r), "response": r["output"], "type": "GSM_Rephrased", "original_question": _user(r)}
            for r in records]  # fmt: skip
    return _dump(Path(root) / KNOWN["metamath"].folder / KNOWN["metamath"].filename, rows, lines=False)


def write_seqins_released(root: str | Path, name: str, records: Sequence[Record]) -> Path:
    """The authors' released Seq-Instruct SIT (`seqins/<file>`, as process_multi_it.py writes it: idx, instruction,
    input, output, system_prompt), the instructions made sequential with "First restate the question, then ..."."""
    known = KNOWN[f"seqins_{name}"]
    if not known.filename:
        raise ValueError(f"the released {name} set has no known file name; give the loader a filename option")
    rows = [
        {"idx": i, "instruction": f"First restate the question, then {_user(r)[:1].lower()}{_user(r)[1:]}",
         "input": "", "output": f"{_user(r)}\n{r['output']}", "system_prompt": ""}
        for i, r in enumerate(records)
    ]  # fmt: skip
    return _dump(Path(root) / known.folder / known.filename, rows, lines=True)


def _user(record: Record) -> str:
    return f"{record['instruction']}\n\n{record['input']}" if record.get("input") else record["instruction"]


WRITERS = {"flancot": write_flancot, "tulu_v2": write_tulu_v2, "metamath": write_metamath}


def folder_of(loader: str) -> str:
    """The folder under the data folder a stand-in for `loader` is written to."""
    if loader in ("alpaca_multilingual", "alpaca_translate_sit"):
        return "alpaca_multilingual"
    return KNOWN["seqins_flancot" if loader == "seqins_released" else loader].folder


def write_standin(root: str | Path, loader: str, records: Sequence[Record], options: dict[str, Any]) -> Path:
    """A synthetic stand-in for the source read by `loader` (with its params `options`) from `records`."""
    if loader in ("alpaca_multilingual", "alpaca_translate_sit"):
        langs = [c.strip() for c in str(options.get("langs", options.get("lang", "de"))).split(",") if c.strip()]
        return write_multilingual(root, records, [c for c in langs if c != "en"])
    if loader == "seqins_released":
        return write_seqins_released(root, str(options.get("name", "flancot")), records)
    if loader not in WRITERS:
        raise ValueError(f"no stand-in writer for loader {loader!r}; allowed: {', '.join(sorted(WRITERS))}, ...")
    return WRITERS[loader](root, records)


@contextmanager
def offline() -> Iterator[None]:
    """The hub unreachable while the block runs (probing for a file never downloads a training set)."""
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    os.environ.update(dict.fromkeys(saved, "1"))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value


def standin_folder(
    folder: str | Path,
    data_dir: str | Path | None,
    sources: Mapping[str, tuple[str, dict[str, Any]]],
    records: Sequence[Record],
) -> dict[str, str]:
    """Make `folder` anew: every entry of `data_dir` linked into it, then a stand-in from `records` for each source
    (name -> (loader, options)) that cannot be loaded from it; returns name -> what was written where."""
    from seqit_utils.data import loaders
    from seqit_utils.data.sources import DataNotFoundError

    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for entry in Path(data_dir).iterdir() if data_dir else ():
        (folder / entry.name).symlink_to(entry.resolve())
    written = {}
    for name, (loader, options) in sources.items():
        try:
            with offline():
                loaders.load(loader, data_dir=folder, limit=1, **options)
        except DataNotFoundError:
            target = folder / folder_of(loader)
            if target.is_symlink():  # never write into the linked data folder
                target.unlink()
            path = write_standin(folder, loader, records, options)
            written[name] = f"synthetic stand-in: {len(records)} records in the layout {loader} reads, {path}"
    return written
