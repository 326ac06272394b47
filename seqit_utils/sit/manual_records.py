"""The building blocks of manual SIT (§2.2): the wording of a sequential instruction (`sequential_instruction`:
"First <clause>, then <instruction>"), the transformed copy of a record with its `steps` (`_derive`), and the checks
every transform runs (required string fields, batched callables returning one string per input). The transforms are
in `seqit_utils.sit.manual` and `seqit_utils.sit.manual_translate`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Record = dict[str, Any]
Records = Sequence[Mapping[str, Any]]

REQUIRED_FIELDS = ("id", "instruction", "input", "output")
# Words whose capital stays when an instruction moves behind "then" (proper-noun detection is out of scope).
_KEEP_CAPITAL = {"I", "I'm", "I've", "I'd", "I'll", "I’m", "I’ve", "I’d", "I’ll"}
_TERMINAL = (".", "!", "?", ":", ";", "…")


def sequential_instruction(prefix_clauses: Sequence[str], instruction: str, *, opening: str = "First") -> str:
    """Join clauses and instruction: "<opening> <clause 1>, then <clause 2>, …, then <instruction>" (§2.2).

    Clauses are lower-case verb phrases without a final stop ("repeat the input"). The instruction is stripped, its
    first letter lower-cased unless its first word is "I"/"I'm"/… or has a second capital (acronyms: "USA", "GPT-3",
    "JavaScript"), and it gets a final "." unless it already ends in . ! ? : ; or …. Examples: (["repeat the input"],
    "Sort the list") → "First repeat the input, then sort the list."; (["repeat the input", "paraphrase it"],
    "What is X?") → "First repeat the input, then paraphrase it, then what is X?". Proper nouns other than "I" are
    lower-cased too ("Paris is …" → "paris is …"), a known limitation.
    """
    clauses = [clause.strip() for clause in prefix_clauses]
    if isinstance(prefix_clauses, str) or not clauses or not all(clauses):
        raise ValueError(f"prefix_clauses must be a non-empty list of non-empty clauses, got {prefix_clauses!r}")
    text = instruction.strip()
    if not text:
        raise ValueError("instruction is empty; manual SIT puts the intermediate task before an existing instruction")
    if not text.endswith(_TERMINAL):
        text += "."
    return f"{opening} " + ", then ".join([*clauses, _lower_first(text)])


def _derive(record: Mapping[str, Any], sit: str, instruction: str, steps: list[dict], **changes: Any) -> Record:
    """The transformed copy of `record`: new id/instruction/output/steps (intermediate `steps` first), `changes`."""
    all_steps = [*steps, *(copy.deepcopy(record.get("steps")) or [{"task": "answer", "output": record["output"]}])]
    outputs = [step["output"] for step in steps] + [record["output"]]
    output = None if None in outputs else "\n".join(outputs)
    new = copy.deepcopy(dict(record))
    new.update(id=f"{record['id']}#{sit}", instruction=instruction, output=output, steps=all_steps, **changes)
    new.update(n_steps=len(all_steps), sit=sit, source_id=record["id"])
    return new


def _instruction(record: Mapping[str, Any], index: int, clauses: list[str], opening: str = "First") -> str:
    if not record["instruction"].strip():
        raise ValueError(f"{_where(record, index)}: field 'instruction' is empty; manual SIT needs an instruction")
    return sequential_instruction(clauses, record["instruction"], opening=opening)


def _lower_first(text: str) -> str:
    word = text.split(maxsplit=1)[0].rstrip(",.;:!?")
    if not text[0].isupper() or word in _KEEP_CAPITAL or sum(ch.isupper() for ch in word) > 1:
        return text
    return text[0].lower() + text[1:]


def _check(records: Records) -> None:
    """ValueError naming the record (id and index) and the field when a record lacks a string id/instruction/…."""
    if isinstance(records, Mapping | str):
        raise ValueError(f"expected a list of records, got a {type(records).__name__}")
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise ValueError(f"record at index {index} is a {type(record).__name__}, not a dict")
        for name in REQUIRED_FIELDS:
            if not isinstance(record.get(name), str):
                problem = f"is a {type(record[name]).__name__}, not a string" if name in record else "is missing"
                raise ValueError(f"{_where(record, index)}: field {name!r} {problem}; SIT needs {REQUIRED_FIELDS}")


def _where(record: Mapping[str, Any], index: int) -> str:
    return f"record {record['id']!r} (index {index})" if isinstance(record.get("id"), str) else f"record {index}"


def _call_batched(fn: Callable[..., Any], texts: list[str], what: str, *args: Any) -> list[str]:
    """Call a batched text function and check it returned one string per input."""
    if not texts:
        return []
    result = fn(list(texts), *args)
    if isinstance(result, str | bytes) or not isinstance(result, Sequence):
        raise ValueError(f"the {what} callable returned a {type(result).__name__}; expected a list of strings")
    if len(result) != len(texts):
        raise ValueError(f"the {what} callable returned {len(result)} strings for {len(texts)} inputs; need 1 each")
    for k, text in enumerate(result):
        if not isinstance(text, str):
            raise ValueError(f"the {what} callable returned a {type(text).__name__} at position {k}; expected str")
    return list(result)
