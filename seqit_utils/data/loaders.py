"""One loader per dataset: read the published file (or its hub copy) and convert it to seqit's record schema.

Every loader returns `list[dict]`: records with `id` (unique within a load: the native id where the data has one,
else `<dataset>/<file path without suffix>/<index>`), `instruction`, `input`, `output` (strings, "" where the data
has none) and the task fields evaluation needs. All loaders take `path=None, data_dir=None, limit=None` (`limit`:
the first N records in file order) plus their own options; `load(name, **options)` dispatches by name. Files are
found by `seqit_utils.data.sources.read_rows` (explicit path → $SEQIT_DATA_DIR → hub, see
`seqit_utils.train.hub_adapters`);
`../shared/data/MANIFEST.md` describes them.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from seqit_utils.data.sft_sources import SFT_LOADERS
from seqit_utils.data.sources import DATA_DIR_ENV, DataNotFoundError, MalformedRecordError, Row, field, read_rows
from seqit_utils.train import hub_adapters as hub

XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")
XQUAD_FEW_SHOT_LANGS = (*XQUAD_LANGS, "multi", "template")  # the authors' exemplar files (seqit_eval/xquad/examples)
MGSM_LANGS = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")

# §4.1.1: the direct-answer XQuAD instruction (the authors' `xquad_base_en.json` uses the same words).
XQUAD_INSTRUCTION = (
    "Answer the question from the given passage. Your answer should be directly extracted from the passage, "
    "and it should be a single entity, name, or number, not a sentence."
)
# CommonsenseQA (Tables 1, 7, 8): the authors' probe says "repeat the input, then select the correct choice"; this is
# its single-step form. The repeat variant itself is `load("seqit_eval_test", name="commonsense_qa_repeat")`.
CSQA_INSTRUCTION = "Select the correct choice to answer the question in the input."
# MGSM, GSM8K and HumanEval records have instruction "": their prompts (few-shot, CoT) are built at evaluation time.
_NULLABLE_STR = (str, type(None))
PathArg = str | Path | None  # a loader's `path` / `data_dir`


def load_seqeval(*, path: PathArg = None, data_dir: PathArg = None, limit: int | None = None) -> list[dict]:
    """SeqEval (§3): 805 sequential instructions from AlpacaEval; `iteration` = Seq-Instruct rounds applied (1-4)."""
    rows = enumerate(read_rows("seqeval", "seqEval.json", path=path, data_dir=data_dir))
    records = [
        _record(f"seqeval/seqEval/{i}", field(r, "instruction"), iteration=field(r, "iteration", int)) for i, r in rows
    ]
    return _finish(records, limit)


def load_seqeval_iteration(
    *, iteration: int = 1, path: PathArg = None, data_dir: PathArg = None, limit: int | None = None
) -> list[dict]:
    """One SeqEval construction round (§3): `seq_instruction`, grown from `ori_instruction` by GPT-4-Turbo."""
    check_option("iteration", iteration, (1, 2, 3, 4))  # iteration 4 is published but absent from shared/data
    filename = f"intermediate_iterations/seqEval_iteration_{iteration}.json"
    records = []
    for i, r in enumerate(read_rows("seqeval", filename, path=path, data_dir=data_dir)):
        extra = {name: field(r, name) for name in ("seq_mode", "ori_instruction", "full_prompt", "full_response")}
        records.append(_record(_id("seqeval", filename, i), field(r, "seq_instruction"), **extra, iteration=iteration))
    return _finish(records, limit)


def load_xquad(
    *, lang: str = "en", path: PathArg = None, data_dir: PathArg = None, limit: int | None = None
) -> list[dict]:
    """XQuAD (§4.1.1, Tables 2/9), SQuAD-v1.1 layout: one record per question, id = its `id`, all answers kept."""
    check_option("lang", lang, XQUAD_LANGS)
    records = []
    for doc in read_rows("xquad", f"xquad.{lang}.json", path=path, data_dir=data_dir, hub=hub.xquad_hub(lang)):
        for title, context, qa in _squad_questions(doc):
            answers = [row for _, row in _children(qa, "answers")]
            texts, starts = [field(a, "text") for a in answers], [field(a, "answer_start", int) for a in answers]
            question = field(qa, "question")
            records.append(_squad_record(field(qa, "id"), context, question, texts, starts, lang=lang, title=title))
    return _finish(records, limit)


def load_mgsm(
    *, lang: str = "en", path: PathArg = None, data_dir: PathArg = None, limit: int | None = None
) -> list[dict]:
    """MGSM (Tables 5, 10/11): headerless TSV question<TAB>answer; output and `answer_number` without commas."""
    check_option("lang", lang, MGSM_LANGS)
    filename, records = f"mgsm_{lang}.tsv", []
    for i, row in enumerate(read_rows("mgsm", filename, path=path, data_dir=data_dir, hub=hub.mgsm_hub(lang))):
        if len(row.data) != 2:
            raise MalformedRecordError(
                f"{row.where}: expected 2 tab-separated columns (question, answer), found {len(row.data)}; "
                "hint: MGSM files have no header and exactly one tab per line"
            )
        question, answer = row.data
        number, output = _number(answer, row, "answer"), answer.strip().replace(",", "")  # "2,125" -> "2125"
        records.append(_record(_id("mgsm", filename, i), "", question, output, answer_number=number, lang=lang))
    return _finish(records, limit)


def load_gsm8k(
    *, split: str = "test", path: PathArg = None, data_dir: PathArg = None, limit: int | None = None
) -> list[dict]:
    """GSM8K (Table 5): output = the full solution; `answer_number` from its final "#### N" line."""
    check_option("split", split, ("train", "test"))
    filename, records = f"{split}.jsonl", []
    for i, r in enumerate(read_rows("gsm8k", filename, path=path, data_dir=data_dir, hub=hub.gsm8k_hub(split))):
        answer = field(r, "answer")
        rationale, sep, final = answer.rpartition("####")
        if not sep:
            raise MalformedRecordError(f"{r.where}: field 'answer' has no final '#### <number>' line")
        extra = {"answer_number": _number(final, r, "answer"), "rationale": rationale.rstrip()}
        records.append(_record(_id("gsm8k", filename, i), "", field(r, "question"), answer, **extra))
    return _finish(records, limit)


def load_commonsenseqa(
    *, split: str = "dev", path: PathArg = None, data_dir: PathArg = None, limit: int | None = None
) -> list[dict]:
    """CommonsenseQA v1.11, original nested format; input formatted as in the authors' processed files."""
    check_option("split", split, ("train", "dev"))
    filename, records = f"{split}_rand_split.jsonl", []
    for r in read_rows("commonsenseqa", filename, path=path, data_dir=data_dir, hub=hub.commonsenseqa_hub(split)):
        question = Row(f"{r.where}, field question", field(r, "question", dict))
        choices = [{"label": field(c, "label"), "text": field(c, "text")} for _, c in _children(question, "choices")]
        stem, key = field(question, "stem"), field(r, "answerKey")
        text = f"Question: {stem}\nChoices: " + ", ".join(f"{c['label']}:{c['text']}" for c in choices)
        extra = {"question": stem, "choices": choices, "question_concept": field(question, "question_concept")}
        records.append(_record(field(r, "id"), CSQA_INSTRUCTION, text, key, answer_key=key, **extra))
    return _finish(records, limit)


def load_alpaca(
    *, filename: str = "alpaca_data_1k.json", path: PathArg = None, data_dir: PathArg = None, limit: int | None = None
) -> list[dict]:
    """Stanford Alpaca (§4). Locally `alpaca/<filename>`; the hub fallback is always the full 52K (train)."""
    rows = read_rows("alpaca", filename, path=path, data_dir=data_dir, hub=hub.ALPACA_HUB)
    return _finish([_alpaca_record(_id("alpaca", filename, i), r) for i, r in enumerate(rows)], limit)


def load_alpaca_seed_tasks(*, path: PathArg = None, data_dir: PathArg = None, limit: int | None = None) -> list[dict]:
    """The 175 Self-Instruct seed tasks: one record per instance (id `<seed id>`, or `<seed id>/<k>` for several)."""
    records = []
    for r in read_rows("alpaca", "seed_tasks.jsonl", path=path, data_dir=data_dir):
        seed_id, instances = field(r, "id"), _children(r, "instances")
        extra = {"name": field(r, "name"), "is_classification": field(r, "is_classification", bool)}
        for k, row in instances:
            id_ = seed_id if len(instances) == 1 else f"{seed_id}/{k}"
            records.append(_record(id_, field(r, "instruction"), field(row, "input"), field(row, "output"), **extra))
    return _finish(records, limit)


def load_alpaca_eval(
    *, generator: str = "gpt4_1106_preview", path: PathArg = None, data_dir: PathArg = None, limit: int | None = None
) -> list[dict]:
    """AlpacaEval model outputs (Table 5), no hub copy; record i is the same instruction for every generator."""
    filename, records = f"{generator}/model_outputs.json", []
    for i, r in enumerate(read_rows("alpaca_eval", filename, path=path, data_dir=data_dir)):
        extra = {"generator": field(r, "generator"), "source_dataset": field(r, "dataset")}
        records.append(
            _record(_id("alpaca_eval", filename, i), field(r, "instruction"), "", field(r, "output"), **extra)
        )
    return _finish(records, limit)


def load_humaneval(*, path: PathArg = None, data_dir: PathArg = None, limit: int | None = None) -> list[dict]:
    """HumanEval (Table 5): input = the function prompt, output = the canonical solution; `test` checks it."""
    records = []
    for r in read_rows("humaneval", "HumanEval.jsonl.gz", path=path, data_dir=data_dir, hub=hub.HUMANEVAL_HUB):
        prompt, solution = field(r, "prompt"), field(r, "canonical_solution")
        extra = {"prompt": prompt, "test": field(r, "test"), "entry_point": field(r, "entry_point")}
        records.append(_record(field(r, "task_id"), "", prompt, solution, **extra))
    return _finish(records, limit)


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


LOADERS: dict[str, Callable[..., list[dict]]] = {
    "alpaca": load_alpaca,
    "alpaca_eval": load_alpaca_eval,
    "alpaca_seed_tasks": load_alpaca_seed_tasks,
    "commonsenseqa": load_commonsenseqa,
    "gsm8k": load_gsm8k,
    "humaneval": load_humaneval,
    "mgsm": load_mgsm,
    "selfseq_samples": load_selfseq_samples,
    "seqeval": load_seqeval,
    "seqeval_iteration": load_seqeval_iteration,
    "seqit_eval_mgsm": load_seqit_eval_mgsm,
    "seqit_eval_test": load_seqit_eval_test,
    "seqit_eval_xquad_few_shot": load_seqit_eval_xquad_few_shot,
    "xquad": load_xquad,
    **SFT_LOADERS,  # training sets of §4.1.1/§4.2 (seqit_utils.data.sft_sources)
}


def load(name: str, /, **options: Any) -> list[dict]:
    """Run the loader registered as `name`; an unknown name or option raises ValueError listing the allowed ones."""
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; allowed names: {', '.join(sorted(LOADERS))}")
    allowed = list(inspect.signature(LOADERS[name]).parameters)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"dataset {name!r}: unknown option(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    return LOADERS[name](**options)


def _record(id_: str, instruction: str, input_: str = "", output: str = "", **extra: Any) -> dict[str, Any]:
    return {"id": id_, "instruction": instruction, "input": input_, "output": output, **extra}


def _alpaca_record(id_: str, row: Row) -> dict[str, Any]:
    return _record(id_, field(row, "instruction"), field(row, "input"), field(row, "output"))


def _squad_record(id_, context, question, texts, starts, *, lang, title="") -> dict[str, Any]:
    # §4.1.1 direct answer: the first gold answer is the target; all of them are kept for evaluation. The input strips
    # context and question, as the authors' `xquad_base_en.json` does (33 XQuAD en questions have stray spaces).
    extra = {"context": context, "question": question, "answers": texts, "answer_starts": starts}
    text, output = f"Passage: {context.strip()}\nQuestion: {question.strip()}", texts[0] if texts else ""
    return _record(id_, XQUAD_INSTRUCTION, text, output, **extra, lang=lang, title=title)


def _squad_questions(doc: Row) -> Iterator[tuple[str, str, Row]]:
    """(article title, paragraph context, question row) for every question of a SQuAD-v1.1 document."""
    for _, article in _children(doc, "data"):
        title = field(article, "title", default="")
        for _, paragraph in _children(article, "paragraphs"):
            context = field(paragraph, "context")
            for _, qa in _children(paragraph, "qas"):
                yield title, context, qa


def _children(row: Row, name: str) -> list[tuple[int, Row]]:
    """The elements of list field `name`, each as a Row located at `<where>, <name>[k]`."""
    return [(k, Row(f"{row.where}, {name}[{k}]", item)) for k, item in enumerate(field(row, name, list))]


def _id(dataset: str, filename: str, index: int) -> str:
    return f"{dataset}/{filename.removesuffix('.gz').rsplit('.', 1)[0]}/{index}"


def _number(text: str, row: Row, name: str) -> int | float:
    cleaned = text.strip().replace(",", "")
    try:
        return int(cleaned) if re.fullmatch(r"-?\d+", cleaned) else float(cleaned)
    except ValueError:
        raise MalformedRecordError(
            f"{row.where}: field {name!r} should end in a number, got {text.strip()!r}"
        ) from None


def check_option(option: str, value: Any, allowed: tuple) -> None:
    """`value` must be one of `allowed`; a ValueError names the option and the allowed values."""
    if isinstance(value, bool) or value not in allowed:
        raise ValueError(f"{option}={value!r} is not allowed; allowed values: {', '.join(map(str, allowed))}")


def _finish(records: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit={limit!r} is not allowed; allowed values: None or an int >= 0")
    seen: set[str] = set()
    for record in records:
        if record["id"] in seen:
            raise MalformedRecordError(f"record id {record['id']!r} occurs twice; ids must be unique within a load")
        seen.add(record["id"])
    return records if limit is None else records[:limit]
