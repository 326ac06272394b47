"""What every dataset loader shares: the datasets' languages and fixed instructions, building records in seqit's
schema (`_record` and its Alpaca / SQuAD forms, ids, numbers) and checking options, ids and `limit`
(`check_option`, `_finish`). The loaders themselves are in `seqit_utils.data.loaders` and
`seqit_utils.data.author_loaders`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seqit_utils.data.sources import MalformedRecordError, Row, field

XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")
XQUAD_FEW_SHOT_LANGS = (*XQUAD_LANGS, "multi", "template")  # the authors' exemplar files (seqit_eval/xquad/examples)
MGSM_LANGS = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")

# §4.1.1: the direct-answer XQuAD instruction (the authors' `xquad_base_en.json` uses the same words).
XQUAD_INSTRUCTION = (
    "Answer the question from the given passage. Your answer should be directly extracted from the passage, "
    "and it should be a single entity, name, or number, not a sentence."
)
PathArg = str | Path | None  # a loader's `path` / `data_dir`


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
