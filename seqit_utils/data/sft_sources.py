"""The paper's training sets (§4.1.1, §4.2) in their published layouts, and the §4.2 samples.

Loaders follow `seqit_utils.data.loaders` (records id/instruction/input/output + fields; options path/data_dir/limit;
explicit path → `$SEQIT_DATA_DIR/<folder>/<original file>` → hub id) and are registered in its LOADERS. Sources,
hub ids, file names and sizes, with where each was checked: docs/data.md; the size check is `seqit_utils.data.sizes`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from seqit_utils.data.sizes import KNOWN
from seqit_utils.data.sources import (
    HubSource,
    MalformedRecordError,
    Row,
    field,
    read_file,
    read_rows,
    resolve_file,
)
from seqit_utils.sit import manual, manual_translate
from seqit_utils.train.hub_adapters import alpaca_from_hub

# hplt-project/monolingual-multilingual-instruction-tuning training-data/alpaca_data_cleaned.<lang>.json (Chen et al.
# 2024): cleaned Alpaca (en) machine-translated; the codes of its template_crosslingual_data.py.
MULTILINGUAL_LANGS = ("bg", "cs", "de", "en", "es", "fi", "fr", "pt", "ru", "zh")
TRANSLATE_LANGS = "de,es,ru,zh"  # §4.1.1: the seen languages of Tables 2/9
PathArg = str | Path | None
SEQINS = ("alpaca", "flancot", "tulu")  # the authors' released Seq-Instruct sets (KNOWN["seqins_<name>"])


def sample_records(records: Sequence[dict], n: int | None, *, seed: int) -> list[dict]:
    """`n` records drawn by `random.Random(seed)`, kept in file order (§4.2: FlanCoT/Tulu 100K, MetaMath 20K).

    None, or n >= len(records), keeps all: a short file is `check_size`'s to refuse, not the sampler's.
    """
    if n is None or n >= len(records):
        return list(records)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"sample={n!r} is not allowed; allowed values: None or an int >= 0")
    return [records[i] for i in sorted(random.Random(seed).sample(range(len(records)), n))]


def load_alpaca_cleaned(*, path: PathArg = None, data_dir: PathArg = None, limit: int | None = None) -> list[dict]:
    """Cleaned Alpaca (gururise/AlpacaDataCleaned, hub yahma/alpaca-cleaned): the authors' Seq-Instruct input."""
    known = KNOWN["alpaca_cleaned"]
    rows = read_rows(known.folder, known.filename, path=path, data_dir=data_dir, hub=_hub(known.hub, alpaca_from_hub))
    return _limit([_alpaca(f"alpaca_cleaned/{i}", r) for i, r in enumerate(rows)], limit)


def load_alpaca_multilingual(
    *,
    lang: str = "en",
    path: PathArg = None,
    en_path: PathArg = None,
    data_dir: PathArg = None,
    limit: int | None = None,
) -> list[dict]:
    """Multilingual Alpaca (Chen et al. 2024): `alpaca_data_cleaned.<lang>.json`, aligned by index with English.

    Record i is the translation of English record i: `aligned_id` = the English record's id. No hub copy (GitHub
    only). `path`: explicit file for `lang`; `en_path`: for the English file when lang != "en". A count mismatch
    raises naming both files.
    """
    _check_option("lang", lang, MULTILINGUAL_LANGS)
    english_file = _local(_ml_name("en"), path if lang == "en" else en_path, data_dir)
    lang_file = english_file if lang == "en" else _local(_ml_name(lang), path, data_dir)
    english, rows = read_file(english_file), read_file(lang_file)
    if len(rows) != len(english):
        raise MalformedRecordError(
            f"multilingual Alpaca is aligned by index, but {lang_file} has {len(rows):,} records and {english_file} "
            f"has {len(english):,}; fix: use the published training-data/ files of "
            "hplt-project/monolingual-multilingual-instruction-tuning, unmodified"
        )
    records = []
    for i, row in enumerate(rows):
        record = _alpaca(f"alpaca_multilingual/{lang}/{i}", row)
        records.append({**record, "lang": lang, "aligned_id": f"alpaca_multilingual/en/{i}"})
    return _limit(records, limit)


def translate_sit(
    english: Sequence[dict],
    translations: Mapping[str, Sequence[dict]],
    *,
    seed: int,
    fraction: float = 1 / 3,
    merge: str = "replace",
) -> list[dict]:
    """§4.1.1 SIT set: a `fraction` of the English records with input get their input in one language (seeded).

    Reuses `manual_translate.translate_sit` ("First, translate the input into English, then <instruction>", output =
    English input + "\\n" + output, one language drawn per record). `translations`: lang → records aligned with
    `english` (`load_alpaca_multilingual`). merge "replace" (the authors' make_data_alpaca_merge_multilingual.py: the
    translated records take the place of their English originals, same size) or "add" (originals + translated).
    """
    _check_option("merge", merge, ("replace", "add"))
    table: dict[str, dict[str, str]] = {}
    for lang, rows in translations.items():
        aligned = [(e["id"], t.get("aligned_id", e["id"])) for e, t in zip(english, rows, strict=False)]
        if len(rows) != len(english) or any(a != b for a, b in aligned):
            raise ValueError(f"{lang}: {len(rows):,} records not aligned with the {len(english):,} English records")
        table[lang] = {e["id"]: t["input"] for e, t in zip(english, rows, strict=True)}
    out = manual_translate.translate_sit(english, table, seed=seed, langs=sorted(table), fraction=fraction)
    if merge == "replace":
        return out
    return manual.it_dataset(english) + [new for new, old in zip(out, english, strict=True) if new["id"] != old["id"]]


def load_alpaca_translate_sit(
    *,
    langs: str = TRANSLATE_LANGS,
    seed: int = 0,
    merge: str = "replace",
    path: PathArg = None,
    data_dir: PathArg = None,
    limit: int | None = None,
) -> list[dict]:
    """The Tables 2/9 SIT training set: `translate_sit` over the English file and each of `langs` (comma-separated)."""
    if path is not None:
        raise ValueError("alpaca_translate_sit reads several files: give data_dir (or $SEQIT_DATA_DIR), not path")
    codes = [code.strip() for code in langs.split(",") if code.strip()]
    english = load_alpaca_multilingual(lang="en", data_dir=data_dir)
    parallel = {code: load_alpaca_multilingual(lang=code, data_dir=data_dir) for code in codes}
    return _limit(translate_sit(english, parallel, seed=seed, merge=merge), limit)


def load_flancot(
    *,
    sample: int | None = None,
    seed: int = 0,
    path: PathArg = None,
    data_dir: PathArg = None,
    limit: int | None = None,
) -> list[dict]:
    """FlanCoT as the authors' pipeline reads it (`flancot100k.jsonl`: system_prompt, question, response), no hub."""
    known = KNOWN["flancot"]
    records = []
    for i, r in enumerate(read_rows(known.folder, known.filename, path=path, data_dir=data_dir)):
        extra = {"system_prompt": field(r, "system_prompt", default="")}
        id_ = f"flancot/{field(r, 'id', (str, int), default=i)}"
        records.append(_record(id_, field(r, "question"), field(r, "response"), **extra))
    return _limit(sample_records(records, sample, seed=seed), limit)


def load_tulu_v2(
    *,
    sample: int | None = None,
    seed: int = 0,
    path: PathArg = None,
    data_dir: PathArg = None,
    limit: int | None = None,
) -> list[dict]:
    """Tulu-V2 SFT mixture (dataset, id, messages[{role, content}]) → one record per conversation.

    instruction = the first user turn, output = the assistant reply to it; a system turn becomes `system_prompt`;
    every turn stays in `messages` (multi-turn training uses them with the chat template), `n_turns` counts them.
    """
    known = KNOWN["tulu_v2"]
    rows = read_rows(known.folder, known.filename, path=path, data_dir=data_dir, hub=_hub(known.hub, list))
    records = [_conversation(f"tulu_v2/{field(r, 'id')}", r, dataset=field(r, "dataset")) for r in rows]
    return _limit(sample_records(records, sample, seed=seed), limit)


def load_metamath(
    *,
    sample: int | None = None,
    seed: int = 0,
    path: PathArg = None,
    data_dir: PathArg = None,
    limit: int | None = None,
) -> list[dict]:
    """MetaMathQA (query, response, type, original_question); §4.2 adds a 20K sample to Tulu-V2."""
    known = KNOWN["metamath"]
    records = []
    rows = read_rows(known.folder, known.filename, path=path, data_dir=data_dir, hub=_hub(known.hub, list))
    for i, r in enumerate(rows):
        extra = {"type": field(r, "type"), "original_question": field(r, "original_question")}
        records.append(_record(f"metamath/{i}", field(r, "query"), field(r, "response"), **extra))
    return _limit(sample_records(records, sample, seed=seed), limit)


def load_seqins_released(
    *,
    name: str = "flancot",
    filename: str = "",
    path: PathArg = None,
    data_dir: PathArg = None,
    limit: int | None = None,
) -> list[dict]:
    """The authors' released Seq-Instruct SIT (2 iterations, Llama-3-70B-Instruct): `HanxuHU/<set>` on the hub.

    Rows as written by the authors' process_multi_it.py (idx, instruction, input, output, system_prompt); rows with
    `messages` are read as conversations. `filename` names the local file where it is not known (Alpaca).
    """
    _check_option("name", name, SEQINS)
    known = KNOWN[f"seqins_{name}"]
    local = filename or known.filename or f"<the .jsonl file of {known.hub}>"
    records = []
    for i, r in enumerate(read_rows(known.folder, local, path=path, data_dir=data_dir, hub=_hub(known.hub, list))):
        id_ = f"seqins_{name}/{field(r, 'idx', int, default=i)}"
        if isinstance(r.data, dict) and "messages" in r.data:
            records.append(_conversation(id_, r))
        else:
            extra = {"system_prompt": field(r, "system_prompt", (str, type(None)), default="") or ""}
            records.append(
                _record(id_, field(r, "instruction"), field(r, "output"), field(r, "input", default=""), **extra)
            )
    return _limit(records, limit)


SFT_LOADERS = {
    "alpaca_cleaned": load_alpaca_cleaned,
    "alpaca_multilingual": load_alpaca_multilingual,
    "alpaca_translate_sit": load_alpaca_translate_sit,
    "flancot": load_flancot,
    "metamath": load_metamath,
    "seqins_released": load_seqins_released,
    "tulu_v2": load_tulu_v2,
}


def _hub(repo_id: str | None, adapt: Callable[[list[dict]], list]) -> HubSource | None:
    """The hub copy's `train` split; these sets' hub rows have the published files' fields (`list` keeps them)."""
    return None if repo_id is None else HubSource(repo_id, None, "train", adapt)


def _local(filename: str, path: PathArg, data_dir: PathArg) -> Path:
    found = resolve_file("alpaca_multilingual", filename, path=path, data_dir=data_dir)
    assert isinstance(found, Path)  # no hub copy: resolve_file returns a file or raises DataNotFoundError
    return found


def _ml_name(lang: str) -> str:
    return f"alpaca_data_cleaned.{lang}.json"


def _record(id_: str, instruction: str, output: str, input_: str = "", **extra: Any) -> dict[str, Any]:
    return {"id": id_, "instruction": instruction, "input": input_, "output": output, **extra}


def _alpaca(id_: str, row: Row) -> dict[str, Any]:
    return _record(id_, field(row, "instruction"), field(row, "output"), field(row, "input", default=""))


def _conversation(id_: str, row: Row, **extra: Any) -> dict[str, Any]:
    turns = [Row(f"{row.where}, messages[{k}]", m) for k, m in enumerate(field(row, "messages", list))]
    messages = [{"role": field(t, "role"), "content": field(t, "content")} for t in turns]
    users = [k for k, m in enumerate(messages) if m["role"] == "user"]
    if not users or users[0] + 1 >= len(messages) or messages[users[0] + 1]["role"] != "assistant":
        raise MalformedRecordError(
            f"{row.where}: field 'messages' has no user turn followed by an assistant turn "
            f"(roles {[m['role'] for m in messages]}); hint: check that the file is the published one"
        )
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    first = users[0]
    extra.update(system_prompt=system, messages=messages, n_turns=len(messages))
    return _record(id_, messages[first]["content"], messages[first + 1]["content"], **extra)


def _limit(records: list[dict], limit: int | None) -> list[dict]:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit={limit!r} is not allowed; allowed values: None or an int >= 0")
    ids = [record["id"] for record in records]
    if len(set(ids)) != len(ids):
        raise MalformedRecordError(
            f"{len(ids) - len(set(ids))} duplicate record ids; ids must be unique within a load"
        )
    return records if limit is None else records[:limit]


def _check_option(option: str, value: Any, allowed: tuple) -> None:
    if isinstance(value, bool) or value not in allowed:
        raise ValueError(f"{option}={value!r} is not allowed; allowed values: {', '.join(map(str, allowed))}")
