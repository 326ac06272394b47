"""Manual sequential instruction tuning (SIT) data (§2.2, §4.1, App. A): prepend intermediate tasks to instructions.

Every transform is a pure function over instruction records (`seqit_utils.data.loaders` schema: id, instruction, input,
output + extras). It returns new dicts in input order, each either transformed or a deep copy of the original; its
arguments are never mutated. A transformed record has

- `instruction` = "First <intermediate clause>, then <original instruction>" (`sequential_instruction`),
- `output` = the gold output of every step joined by "\\n" (§2.1: ŷ = ŷ1 ⊕ … ⊕ ŷn), e.g. input + "\\n" + answer,
- `steps` = [{"task": <intermediate>, "output": <its gold output>}, …, {"task": "answer", "output": <original
  output>}] as in `seqit_utils.data.tasks` (a record that already has `steps` keeps them after the new ones),
  `n_steps`,
- `sit` = the transform name, `source_id` = the original id, `id` = "<original id>#<sit>"; other fields are copied.

Input-based intermediate tasks need an input: records whose input is empty or whitespace stay as they are. The SIT
training set is the originals followed by the transformed records (`build_sit_dataset`; §2.2 merges the modified
examples with the originals). Counts (transformed, skipped) are logged at INFO/WARNING on the logger of the module
that holds the transform. The sequential wording and the record helpers are in `seqit_utils.sit.manual_records`, the
translate transform (§4.1.1) in `seqit_utils.sit.manual_translate`; `build_sit_dataset` dispatches to all of them.
"""

from __future__ import annotations

import copy
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from seqit_utils.sit.manual_records import (
    Record,
    Records,
    _call_batched,
    _check,
    _derive,
    _instruction,
    _where,
    sequential_instruction,
)
from seqit_utils.sit.manual_translate import Translations, translate_sit

logger = logging.getLogger(__name__)

Paraphraser = Callable[[list[str]], list[str]]  # batched: inputs -> one paraphrase per input, same order

# Clause of each chainable intermediate task: (first step or after a non-repeat step, right after "repeat"). After a
# repeat the previous output *is* the input, so "it" refers to the input either way (v1 Table 6: repeat → paraphrase).
INTERMEDIATES = {"repeat": ("repeat the input", "repeat it"), "paraphrase": ("paraphrase the input", "paraphrase it")}
TRANSFORMS = ("repeat", "paraphrase", "translate", "caption", "chain")
CAPTION_CLAUSE = "describe the image"  # §4.1.2
CAPTION_IT_INSTRUCTION = "Answer the input question based on the image."  # §4.1.2, the IT baseline


def repeat_sit(records: Records) -> list[Record]:
    """Repeat (§2.2, App. A): "First repeat the input, then …"; output = input + "\\n" + output."""
    return chain(records, ["repeat"])


def paraphrase_sit(records: Records, paraphrase: Paraphraser) -> list[Record]:
    """Paraphrase (§2.2, App. A): "First paraphrase the input, then …"; the intermediate = `paraphrase(inputs)`."""
    return chain(records, ["paraphrase"], paraphrase=paraphrase)


def chain(records: Records, intermediates: Sequence[str], *, paraphrase: Paraphraser | None = None) -> list[Record]:
    """n intermediate tasks before the answer, e.g. ["repeat", "paraphrase"] (v1 Table 6) gives "First repeat the
    input, then paraphrase it, then <instruction>" and output = input + "\\n" + paraphrase + "\\n" + answer.

    Every intermediate reads the original input (repeat → the input, paraphrase → its paraphrase); `sit` and the id
    suffix are the names joined by "+" ("repeat+paraphrase"). Records without input stay unchanged. `paraphrase` is
    called once with the inputs of all records that have one; an empty paraphrase leaves its record unchanged (logged).
    """
    _check(records)
    names = list(intermediates or [])
    unknown = [name for name in names if name not in INTERMEDIATES]
    if isinstance(intermediates, str) or not names or unknown:
        raise ValueError(
            f"intermediates={intermediates!r}: allowed values: a non-empty list of {', '.join(INTERMEDIATES)}"
        )
    if "paraphrase" in names and paraphrase is None:
        raise ValueError("intermediate 'paraphrase' needs paraphrase=<callable: inputs -> paraphrases>")
    sit, todo = "+".join(names), [i for i, record in enumerate(records) if record["input"].strip()]
    clauses = [INTERMEDIATES[name][k > 0 and names[k - 1] == "repeat"] for k, name in enumerate(names)]
    instructions = [_instruction(records[i], i, clauses) for i in todo]  # checked before any LLM call
    texts = [records[i]["input"] for i in todo]  # a repeat-only chain uses the inputs as stand-in "paraphrases"
    paraphrases = _call_batched(paraphrase, texts, "paraphrase") if "paraphrase" in names else texts
    out, skipped = [copy.deepcopy(dict(record)) for record in records], 0
    for i, instruction, para in zip(todo, instructions, paraphrases, strict=True):
        if not para.strip():
            skipped += 1
            continue
        gold = {"repeat": records[i]["input"], "paraphrase": para}
        out[i] = _derive(records[i], sit, instruction, [{"task": name, "output": gold[name]} for name in names])
    if skipped:
        logger.warning("%s: %d of %d records skipped (empty paraphrase)", sit, skipped, len(todo))
    logger.info("%s: %d of %d records transformed (%d with input)", sit, len(todo) - skipped, len(records), len(todo))
    return out


def caption_sit(records: Records) -> list[Record]:
    """Caption (§4.1.2): "First describe the image, then answer the input question based on the image.";
    output = caption + "\\n" + answer. Records need a non-empty `caption`; `image`/`image_id` fields are copied."""
    _check(records)
    instruction = sequential_instruction([CAPTION_CLAUSE], CAPTION_IT_INSTRUCTION)
    out = []
    for i, record in enumerate(records):
        caption = record.get("caption")
        if not isinstance(caption, str) or not caption.strip():
            raise ValueError(f"{_where(record, i)}: field 'caption' is missing or empty; caption SIT needs one")
        out.append(_derive(record, "caption", instruction, [{"task": "caption", "output": caption}]))
    return out


def caption_it(records: Records) -> list[Record]:
    """The IT baseline of §4.1.2: copies with instruction "Answer the input question based on the image."."""
    _check(records)
    return [{**copy.deepcopy(dict(record)), "instruction": CAPTION_IT_INSTRUCTION} for record in records]


def it_dataset(records: Records) -> list[Record]:
    """The IT training set: validated deep copies of the originals."""
    _check(records)
    return [copy.deepcopy(dict(record)) for record in records]


def build_sit_dataset(
    records: Records,
    transform: str,
    *,
    seed: int,
    paraphrase: Paraphraser | None = None,
    translations: Translations | None = None,
    langs: Sequence[str] | None = None,
    intermediates: Sequence[str] | None = None,
) -> list[Record]:
    """SIT data (§2.2): the originals in order, then the transformed records in order (training shuffles).

    `transform`: repeat, paraphrase (needs `paraphrase`), translate (needs `translations`; uses `seed`, `langs`),
    caption (its originals part is `caption_it(records)`) or chain (needs `intermediates`). `seed` is required for
    every transform so that call sites stay uniform; only translate draws random numbers.
    """
    if transform not in TRANSFORMS:
        raise ValueError(f"transform={transform!r} is unknown; allowed values: {', '.join(TRANSFORMS)}")
    originals = caption_it(records) if transform == "caption" else it_dataset(records)
    if transform == "translate":
        out = translate_sit(records, translations, seed=seed, langs=langs)
    elif transform == "caption":
        out = caption_sit(records)
    else:
        names = {"repeat": ["repeat"], "paraphrase": ["paraphrase"]}.get(transform, intermediates)
        out = chain(records, names, paraphrase=paraphrase)
    merged = originals + [new for new, old in zip(out, records, strict=True) if new["id"] != old["id"]]
    duplicates = [id_ for id_, count in Counter(record["id"] for record in merged).items() if count > 1]
    if duplicates:
        raise ValueError(f"SIT dataset has duplicate ids, e.g. {duplicates[:3]}; ids must be unique")
    return merged


def dataset_stats(records: Records, tokenizer: Any = None) -> dict[str, Any]:
    """Counts and mean lengths for the "02 sequential data" notebook.

    n, n_with_input (non-blank input), n_sequential (≥ 2 steps), by_transform (`sit` → count), mean_<field>_chars for
    instruction/input/output over all records (an empty input counts 0; 0.0 for no records), and, given a tokenizer
    (a transformers/tokenizers object with `encode`, special tokens excluded, or a callable text → tokens),
    mean_<field>_tokens.
    """
    _check(records)
    n = len(records)
    stats: dict[str, Any] = {
        "n": n,
        "n_with_input": sum(1 for record in records if record["input"].strip()),
        "n_sequential": sum(1 for record in records if len(record.get("steps") or []) >= 2),
        "by_transform": dict(sorted(Counter(record["sit"] for record in records if record.get("sit")).items())),
    }
    counters = {"chars": len} if tokenizer is None else {"chars": len, "tokens": _token_counter(tokenizer)}
    for unit, count in counters.items():
        for name in ("instruction", "input", "output"):
            stats[f"mean_{name}_{unit}"] = sum(count(record[name]) for record in records) / n if n else 0.0
    return stats


def probe_variants(record: Mapping[str, Any]) -> dict[str, Record]:
    """Evaluation prompts for the probe (Table 1) and Tables 7/8 (e.g. CommonsenseQA): single, repeat, paraphrase.

    "single" keeps the original instruction (steps = [answer]); "repeat" is `repeat_sit`; "paraphrase" asks "First
    paraphrase the input, then …" whose gold intermediate is unknown: its step output and `output` are None. Score
    accuracy against steps[-1]["output"]; following on "paraphrase" needs a judge, or ROUGE-L against the input as
    a fallback (a paraphrase stays close to its input, a skipped step scores low).
    """
    _check([record])
    if not record["input"].strip():
        raise ValueError(f"{_where(record, 0)}: field 'input' is empty; probe variants act on the input")
    prior = copy.deepcopy(record.get("steps")) or [{"task": "answer", "output": record["output"]}]
    single = {**copy.deepcopy(dict(record)), "steps": prior, "n_steps": len(prior)}
    instruction = _instruction(record, 0, [INTERMEDIATES["paraphrase"][0]])
    paraphrased = _derive(record, "paraphrase", instruction, [{"task": "paraphrase", "output": None}])
    return {"single": single, "repeat": repeat_sit([record])[0], "paraphrase": paraphrased}


def _token_counter(tokenizer: Any) -> Callable[[str], int]:
    if hasattr(tokenizer, "encode"):  # transformers tokenizers; a `tokenizers.Encoding` has a length too
        return lambda text: len(tokenizer.encode(text, add_special_tokens=False))
    if callable(tokenizer):
        return lambda text: len(tokenizer(text))
    raise ValueError(f"tokenizer must have .encode() or be a callable text -> tokens, got {type(tokenizer).__name__}")
