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
examples with the originals). Counts (transformed, skipped) are logged at INFO/WARNING on this module's logger.
"""

from __future__ import annotations

import copy
import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

logger = logging.getLogger(__name__)

Record = dict[str, Any]
Records = Sequence[Mapping[str, Any]]
Paraphraser = Callable[[list[str]], list[str]]  # batched: inputs -> one paraphrase per input, same order
Translator = Callable[[list[str], str], list[str]]  # batched: (English inputs, language code) -> translations
Translations = Translator | Mapping[str, str] | Mapping[str, Mapping[str, str]]

REQUIRED_FIELDS = ("id", "instruction", "input", "output")
# Clause of each chainable intermediate task: (first step or after a non-repeat step, right after "repeat"). After a
# repeat the previous output *is* the input, so "it" refers to the input either way (v1 Table 6: repeat → paraphrase).
INTERMEDIATES = {"repeat": ("repeat the input", "repeat it"), "paraphrase": ("paraphrase the input", "paraphrase it")}
TRANSFORMS = ("repeat", "paraphrase", "translate", "caption", "chain")
TRANSLATE_CLAUSE = "translate the input into English"  # §4.1.1, opened by "First,"; 1/3 of the inputs translated
CAPTION_CLAUSE = "describe the image"  # §4.1.2
CAPTION_IT_INSTRUCTION = "Answer the input question based on the image."  # §4.1.2, the IT baseline
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


def translate_sit(
    records: Records,
    translations: Translations,
    *,
    seed: int,
    langs: Sequence[str] | None = None,
    fraction: float = 1 / 3,
) -> list[Record]:
    """Translate (§4.1.1): replace `round(fraction × n)` English inputs by a translation (n = records with input).

    `translations` is a callable `translate(texts, lang)`, a mapping lang → {id → translated input} (parallel data,
    e.g. multilingual Alpaca or XQuAD) or, with exactly one entry in `langs`, a mapping id → translated input. With
    fraction 1/3, n/3 never ends in .5, so Python's round is unambiguous (839 → 280). `random.Random(seed)` samples
    the records, then draws each one's language from `langs` (default: the mapping's languages, sorted) in record
    order. A selected record gets instruction "First, translate the input into English, then <instruction>", input =
    the translation, output = English input + "\\n" + output, `lang`; other fields (e.g. XQuAD `context`) stay
    English. Unselected records stay as they are; an empty translation leaves its record unchanged (logged).
    """
    _check(records)
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction={fraction!r} is not allowed; allowed values: 0 <= fraction <= 1")
    langs, table = _langs(translations, langs)
    rng, eligible = random.Random(seed), [i for i, record in enumerate(records) if record["input"].strip()]
    chosen = sorted(rng.sample(eligible, round(len(eligible) * fraction)))
    lang_of = {i: rng.choice(langs) for i in chosen}
    instructions = {i: _instruction(records[i], i, [TRANSLATE_CLAUSE], opening="First,") for i in chosen}
    texts = _lookup(records, lang_of, table, langs)
    out, done = [copy.deepcopy(dict(record)) for record in records], Counter()
    for i, instruction in instructions.items():
        if not texts[i].strip():
            continue
        step = {"task": "translate", "output": records[i]["input"]}
        out[i] = _derive(records[i], "translate", instruction, [step], input=texts[i], lang=lang_of[i])
        done[lang_of[i]] += 1
    logger.info(
        "translate: %d of %d inputs replaced (selected round(%d × %.3f) = %d; %d empty translations) %s",
        done.total(), len(records), len(eligible), fraction, len(chosen), len(chosen) - done.total(), dict(done),
    )  # fmt: skip
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


def _langs(translations: Translations, langs: Sequence[str] | None) -> tuple[list[str], Any]:
    """The languages to draw from, and `translations` as a callable or a mapping lang → {id → translation}."""
    if not isinstance(translations, Mapping) and not callable(translations):
        raise ValueError(f"translations must be a callable or a mapping, got a {type(translations).__name__}")
    nested = isinstance(translations, Mapping) and all(isinstance(v, Mapping) for v in translations.values())
    if nested and langs is None:
        langs = sorted(translations)
    if isinstance(langs, str) or not langs:
        raise ValueError(f"langs={langs!r}: give a non-empty list of language codes, e.g. ['de', 'es', 'zh']")
    if nested and (missing := [lang for lang in langs if lang not in translations]):
        raise ValueError(f"langs {missing} have no translations; available: {', '.join(sorted(translations))}")
    if isinstance(translations, Mapping) and not nested:
        if len(langs) != 1:
            raise ValueError(f"a flat id -> translation mapping is one language, but langs={list(langs)!r}")
        translations = {langs[0]: translations}
    return list(langs), translations


def _lookup(records: Records, lang_of: dict[int, str], translations: Any, langs: list[str]) -> dict[int, str]:
    """Record index → its translation into `lang_of[index]`, from the callable (one batch per language) or mapping."""
    if callable(translations) and not isinstance(translations, Mapping):
        texts: dict[int, str] = {}
        for lang in langs:
            indices = [i for i, chosen in lang_of.items() if chosen == lang]
            batch = _call_batched(translations, [records[i]["input"] for i in indices], "translate", lang)
            texts.update(zip(indices, batch, strict=True))
        return texts
    texts = {}
    for i, lang in lang_of.items():
        text = translations[lang].get(records[i]["id"])
        if not isinstance(text, str):
            raise ValueError(f"{_where(records[i], i)}: no {lang} translation (got {type(text).__name__})")
        texts[i] = text
    return texts


def _token_counter(tokenizer: Any) -> Callable[[str], int]:
    if hasattr(tokenizer, "encode"):  # transformers tokenizers; a `tokenizers.Encoding` has a length too
        return lambda text: len(tokenizer.encode(text, add_special_tokens=False))
    if callable(tokenizer):
        return lambda text: len(tokenizer(text))
    raise ValueError(f"tokenizer must have .encode() or be a callable text -> tokens, got {type(tokenizer).__name__}")
