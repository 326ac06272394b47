"""Hugging Face hub copies of the datasets, and adapters from their rows to the records of the published files.

An adapter's output goes through the same loader conversion as the file (`seqit_utils.data.loaders`), so one code path
converts. The hub is unreachable where the tests run: these ids are not exercised there; the adapters are pure
functions, tested on hand-written rows in each hub dataset's documented schema.
"""

from __future__ import annotations

from typing import Any

from seqit_utils.data.sources import HubSource


def xquad_from_hub(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """google/xquad flat rows (id, context, question, answers{text, answer_start}) -> one SQuAD-v1.1 document.

    Consecutive rows sharing a context become one paragraph; the hub has no titles, so the single article's is "".
    """
    paragraphs: list[dict[str, Any]] = []
    for row in rows:
        pairs = zip(row["answers"]["text"], row["answers"]["answer_start"], strict=True)
        qa = {
            "answers": [{"answer_start": s, "text": t} for t, s in pairs],
            "id": row["id"],
            "question": row["question"],
        }
        if paragraphs and paragraphs[-1]["context"] == row["context"]:
            paragraphs[-1]["qas"].append(qa)
        else:
            paragraphs.append({"context": row["context"], "qas": [qa]})
    return [{"data": [{"title": "", "paragraphs": paragraphs}], "version": "1.1"}]


def mgsm_from_hub(rows: list[dict[str, Any]]) -> list[list[str]]:
    """juletxara/mgsm rows (question, answer=None on test, answer_number, equation_solution) -> [question, answer]."""
    return [[row["question"], str(row["answer_number"])] for row in rows]


def gsm8k_from_hub(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """openai/gsm8k rows have the JSONL fields (question, answer)."""
    return [{"question": row["question"], "answer": row["answer"]} for row in rows]


def commonsenseqa_from_hub(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """tau/commonsense_qa flat rows (question, question_concept, choices{label[], text[]}) -> original nested ones."""
    records = []
    for row in rows:
        pairs = zip(row["choices"]["label"], row["choices"]["text"], strict=True)
        question = {
            "question_concept": row["question_concept"],
            "choices": [{"label": label, "text": text} for label, text in pairs],
            "stem": row["question"],
        }
        records.append({"answerKey": row["answerKey"], "id": row["id"], "question": question})
    return records


def alpaca_from_hub(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """tatsu-lab/alpaca rows -> Alpaca records (drops the hub's pre-formatted `text` field)."""
    return [{key: row[key] for key in ("instruction", "input", "output")} for row in rows]


def humaneval_from_hub(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """openai/openai_humaneval rows have the JSONL fields."""
    keys = ("task_id", "prompt", "canonical_solution", "test", "entry_point")
    return [{key: row[key] for key in keys} for row in rows]


def xquad_hub(lang: str) -> HubSource:
    """All 1190 XQuAD questions of `lang` (the shared files hold 839: 12 articles are held back)."""
    return HubSource("google/xquad", f"xquad.{lang}", "validation", xquad_from_hub)


def mgsm_hub(lang: str) -> HubSource:
    """The 250 MGSM test problems of `lang`."""
    return HubSource("juletxara/mgsm", lang, "test", mgsm_from_hub)


def gsm8k_hub(split: str) -> HubSource:
    """GSM8K `train` (7473) or `test` (1319)."""
    return HubSource("openai/gsm8k", "main", split, gsm8k_from_hub)


def commonsenseqa_hub(split: str) -> HubSource:
    """CommonsenseQA `train` (9741) or `dev` (the hub's `validation`, 1221)."""
    return HubSource("tau/commonsense_qa", None, {"dev": "validation"}.get(split, split), commonsenseqa_from_hub)


ALPACA_HUB = HubSource("tatsu-lab/alpaca", None, "train", alpaca_from_hub)  # the full 52K (`alpaca_data.json`)
HUMANEVAL_HUB = HubSource("openai/openai_humaneval", None, "test", humaneval_from_hub)
