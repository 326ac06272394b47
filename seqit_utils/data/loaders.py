"""One loader per dataset: read the published file (or its hub copy) and convert it to seqit's record schema.

Every loader returns `list[dict]`: records with `id` (unique within a load: the native id where the data has one,
else `<dataset>/<file path without suffix>/<index>`), `instruction`, `input`, `output` (strings, "" where the data
has none) and the task fields evaluation needs. All loaders take `path=None, data_dir=None, limit=None` (`limit`:
the first N records in file order) plus their own options; `load(name, **options)` dispatches by name. Files are
found by `seqit_utils.data.sources.read_rows` (explicit path → $SEQIT_DATA_DIR → hub, see
`seqit_utils.train.hub_adapters`); `../shared/data/MANIFEST.md` describes them.

This module holds the loaders of the published datasets and the registry `LOADERS` / `load`; the authors' own files
are read by `seqit_utils.data.author_loaders`, and the helpers all loaders share (record building, option and limit
checks, languages) are in `seqit_utils.data.schema`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from seqit_utils.data.author_loaders import (
    load_selfseq_samples,
    load_seqit_eval_mgsm,
    load_seqit_eval_test,
    load_seqit_eval_xquad_few_shot,
)
from seqit_utils.data.schema import (
    MGSM_LANGS,
    XQUAD_LANGS,
    PathArg,
    _alpaca_record,
    _children,
    _finish,
    _id,
    _number,
    _record,
    _squad_questions,
    _squad_record,
    check_option,
)
from seqit_utils.data.sft_sources import SFT_LOADERS
from seqit_utils.data.sources import MalformedRecordError, Row, field, read_rows
from seqit_utils.train import hub_adapters as hub

# CommonsenseQA (Tables 1, 7, 8): the authors' probe says "repeat the input, then select the correct choice"; this is
# its single-step form. The repeat variant itself is `load("seqit_eval_test", name="commonsense_qa_repeat")`.
CSQA_INSTRUCTION = "Select the correct choice to answer the question in the input."
# MGSM, GSM8K and HumanEval records have instruction "": their prompts (few-shot, CoT) are built at evaluation time.


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
