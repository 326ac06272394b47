"""Loaders for the authors' own released files, which have no hub copy: their processed evaluation sets
(`seqit_eval`: Alpaca-shaped test files, MGSM JSONL, XQuAD few-shot exemplars) and their recorded Seq-Instruct
generator outputs (`seqit_selfseq_samples`, with `parse_recording_name` and `list_selfseq_samples`). Records are
built with `seqit_utils.data.schema`, like every loader's; `seqit_utils.data.loaders.load(name, ...)` dispatches here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from seqit_utils.data.schema import (
    MGSM_LANGS,
    XQUAD_FEW_SHOT_LANGS,
    PathArg,
    _alpaca_record,
    _finish,
    _id,
    _record,
    _squad_record,
    check_option,
)
from seqit_utils.data.sources import DATA_DIR_ENV, DataNotFoundError, Row, field, read_rows

_NULLABLE_STR = (str, type(None))


def load_seqit_eval_test(
    *, name: str = "commonsense_qa_repeat", path: PathArg = None, data_dir: PathArg = None, limit: int | None = None
) -> list[dict]:
    """The authors' processed eval files `seqit_eval/test/<name>.json` (Alpaca-shaped), no hub copy."""
    filename = f"test/{name}.json"
    rows = read_rows("seqit_eval", filename, path=path, data_dir=data_dir)
    records = [_alpaca_record(_id("seqit_eval", filename, i), r) for i, r in enumerate(rows)]
    return _finish([{**record, "source_file": f"seqit_eval/{filename}"} for record in records], limit)


def load_seqit_eval_mgsm(
    *, lang: str = "en", part: str = "test", path: PathArg = None, data_dir: PathArg = None, limit: int | None = None
) -> list[dict]:
    """The authors' MGSM JSONL (250 test problems, or 8 CoT exemplars); output = the CoT answer, else the number."""
    check_option("lang", lang, MGSM_LANGS)
    check_option("part", part, ("test", "examples"))
    filename, records = f"eval/mgsm/{part}/{lang}.jsonl", []
    for i, r in enumerate(read_rows("seqit_eval", filename, path=path, data_dir=data_dir)):
        answer, number = field(r, "answer", _NULLABLE_STR), field(r, "answer_number", (int, float))
        output, solution = str(number) if answer is None else answer, field(r, "equation_solution", _NULLABLE_STR)
        extra = {"answer_number": number, "answer": answer, "equation_solution": solution, "lang": lang}
        records.append(_record(_id("seqit_eval", filename, i), "", field(r, "question"), output, **extra))
    return _finish(records, limit)


def load_seqit_eval_xquad_few_shot(
    *, lang: str = "en", path: PathArg = None, data_dir: PathArg = None, limit: int | None = None
) -> list[dict]:
    """The authors' 4 XQuAD few-shot exemplars per language (flat rows: context, question, answers{text, start})."""
    check_option("lang", lang, XQUAD_FEW_SHOT_LANGS)
    filename, records = f"xquad/examples/xquad_few_shot_{lang}.jsonl", []
    for i, r in enumerate(read_rows("seqit_eval", filename, path=path, data_dir=data_dir)):
        answers = Row(f"{r.where}, field answers", field(r, "answers", dict))
        texts, starts = field(answers, "text", list), field(answers, "answer_start", list)
        context, question = field(r, "context"), field(r, "question")
        records.append(_squad_record(_id("seqit_eval", filename, i), context, question, texts, starts, lang=lang))
    return _finish(records, limit)


# A recording's file name: `<source>-<generator>[-<stage>]`, source `alpaca-cleaned`, `flancot` or any
# underscore-joined name such as `flancot_filtered_15k` (the authors' FlanCoT files); stage = a pipeline step of
# seqit_utils.sit.seq_instruct_stats.STAGES. A source sample (`alpaca-cleaned_20`) has no generator.
RECORDING_NAME = re.compile(
    r"(?P<source>alpaca-cleaned|flancot|[A-Za-z0-9.]+(?:_[A-Za-z0-9.]+)+)-(?P<generator>.+?)"
    r"(?:-(?P<stage>generate_instruct(?:-[a-z]+)*))?"
)


def parse_recording_name(name: str) -> tuple[str, str, str] | None:
    """(source, generator, stage) of a Seq-Instruct recording's file stem (stage "" = the option step), or None when
    the name has no `<source>-<generator>` form (e.g. a source sample)."""
    match = RECORDING_NAME.fullmatch(name)
    return (match["source"], match["generator"], match["stage"] or "") if match else None


def load_selfseq_samples(
    *, name: str, subset: str = "alpaca", path: PathArg = None, data_dir: PathArg = None, limit: int | None = None
) -> list[dict]:
    """The authors' recorded Seq-Instruct generator outputs (§2.2, Table 4), every source field kept.

    id uses the source `idx`; output = `final_refined_instruction_reponse` [sic] if present, else the source
    `output`, else ""; `source`, `generator` and pipeline `stage` are parsed from the file name (None for a source
    sample). A recording may hold an `idx` more than once (the authors' FlanCoT Llama-3-70B refine-final file holds
    each three times, differing in `final_instruction`): all records are kept, each gets `idx_repeat` (0 for the
    first occurrence, 1, 2, … after; the id gains `#<repeat>`) and `duplicate_idx` (its idx occurs more than once).
    """
    filename, records = f"{subset}/{name}.jsonl", []
    source, generator, stage = parse_recording_name(name) or (None, None, None)
    seen: dict[int, int] = {}
    idxs = []
    for i, r in enumerate(read_rows("seqit_selfseq_samples", filename, path=path, data_dir=data_dir)):
        idx, instruction = field(r, "idx", int, default=i), field(r, "instruction")
        output = field(r, "final_refined_instruction_reponse", default="") or field(r, "output", default="")
        repeat = seen[idx] = seen.get(idx, -1) + 1
        idxs.append(idx)
        id_ = f"seqit_selfseq_samples/{subset}/{name}/{idx}" + (f"#{repeat}" if repeat else "")
        extra = {"source": source, "generator": generator, "stage": stage, "idx_repeat": repeat}
        base = _record(id_, instruction, field(r, "input", default=""), output, **extra)
        records.append({**r.data, **base})
    for record, idx in zip(records, idxs, strict=True):
        record["duplicate_idx"] = seen[idx] > 0
    return _finish(records, limit)


def list_selfseq_samples(*, subset: str = "alpaca", data_dir: str | Path | None = None) -> list[str]:
    """Names (file stems) of the Seq-Instruct sample files in `<data_dir or $SEQIT_DATA_DIR>/seqit_selfseq_samples`."""
    root = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    folder = None if root is None else Path(root).expanduser() / "seqit_selfseq_samples" / subset
    if folder is None or not folder.is_dir():
        why = f"{folder} does not exist" if folder else f"{DATA_DIR_ENV} is unset and no data_dir was given"
        raise DataNotFoundError(
            f"dataset 'seqit_selfseq_samples': {why}; these files have no hub copy. "
            f"Fix: set {DATA_DIR_ENV} to a folder containing seqit_selfseq_samples/{subset}/, "
            f"e.g. {DATA_DIR_ENV}=../shared/data"
        )
    return sorted(p.name.removesuffix(".jsonl") for p in folder.glob("*.jsonl"))
