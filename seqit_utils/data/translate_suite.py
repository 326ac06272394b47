"""Translate-then-answer in miniature (§4.1.1, Tables 2/9): the task suite on English and French inputs.

The paper fine-tunes a pretrained multilingual base (Llama-3-8B, Mistral-7B) on English Alpaca (IT) or on Alpaca with
one third of its inputs replaced by a translation and the instruction prefixed "First, translate the input into
English, then ..." (SIT), and evaluates on XQuAD questions in seen and unseen languages. A tiny model trained from
scratch has no multilingual knowledge to start from, so here the IT set itself carries it: the suite's single-step
tasks on English inputs *and* on French inputs (the French forms of the same nouns, `tasks.EN_TO_FR`), plus, by
default, the single-step task "Translate the input into English." on French inputs (a pretrained base can translate;
without this task the IT model could not even attempt the first step). SIT = that IT set with one third of the
English inputs of the *seen* tasks replaced by their French form through
`seqit_utils.sit.manual_translate.translate_sit`, the project's §4.1.1 transform, fed by the lexicon. There is one
foreign language only, so "unseen" is about tasks: the unseen tasks are in IT (English and French inputs) but never
after a translation step in training, the analogue of the paper's unseen languages.

Records have the suite's schema (`seqit_utils.data.tasks`): id, instruction, input, output, task, steps, n_steps,
split, plus `lang` ("en" | "fr": the language of the input) and, on translated records, `sit`/`source_id` from
`translate_sit`. The translation step is named `TO_ENGLISH` (the suite's own "translate" goes into French). Inputs
are noun lists; an English list and its French form always fall on the same side of the train/eval partition, so no
evaluation input, in either language, is a training input here or in `tasks.generate_suite`'s training splits.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

from seqit_utils.data import tasks
from seqit_utils.sit import manual_translate

TO_ENGLISH = "to_english"  # the §4.1.1 intermediate step: French input -> its English form
FR_TO_EN = {fr: en for en, fr in tasks.EN_TO_FR.items()}
TO_ENGLISH_PHRASINGS = ("translate the input into English", "give the English for the words")
TO_ENGLISH_PHRASINGS += ("rewrite the words in English",)
EN_TASKS = tuple(name for name in tasks.TASK_NAMES if "en" in tasks.TASKS[name].signature)
FR_TASKS = tuple(name for name in tasks.TASK_NAMES if "fr" in tasks.TASKS[name].signature)
# Tasks that may follow the translation step: every English task but the suite's "translate" (back into French).
SIT_TASKS = tuple(name for name in EN_TASKS if name != "translate")
DEFAULT_UNSEEN = ("reverse", "count", "dedupe")
SPLITS = ("translate_train_it", "translate_train_sit", "translate_eval_seen", "translate_eval_unseen")


def to_french(text: str) -> str:
    """The French form of a space-separated list of English nouns (the suite's lexicon); ValueError otherwise."""
    return " ".join(_look_up(tasks.EN_TO_FR, token, text, "English") for token in text.split())


def to_english(text: str) -> str:
    """The English form of a space-separated list of French nouns (the suite's lexicon); ValueError otherwise."""
    return " ".join(_look_up(FR_TO_EN, token, text, "French") for token in text.split())


def _look_up(lexicon: dict[str, str], token: str, text: str, language: str) -> str:
    if token not in lexicon:
        raise ValueError(f"{token!r} in {text!r} is not one of the suite's 20 {language} nouns")
    return lexicon[token]


def _lexicon(texts: list[str], lang: str) -> list[str]:
    """`manual_translate.translate_sit`'s translator: English inputs -> French, by the lexicon."""
    if lang != "fr":
        raise ValueError(f"lang = {lang!r}: the suite's lexicon has French only; allowed values: fr")
    return [to_french(text) for text in texts]


def _sample(rng: random.Random, task: str, lang: str, n: int, eval_side: bool, seen: set) -> list[dict[str, Any]]:
    """`n` single-step records of `task` on inputs in `lang`, drawn as English lists (then translated if "fr")
    whose English and French forms both lie on the requested side of `tasks.is_eval_input`."""
    out: list[dict[str, Any]] = []
    for _ in range(200 * n + 10_000):  # ~100 draws per eval record (both forms on the eval side: ~1%); bounded
        if len(out) == n:
            return out
        english = " ".join(rng.choices(tasks.ENGLISH_NOUNS, k=rng.randint(tasks.MIN_ITEMS, tasks.MAX_ITEMS)))
        french = to_french(english)
        if tasks.is_eval_input(english) != eval_side or tasks.is_eval_input(french) != eval_side:
            continue
        text = english if lang == "en" else french
        if task == TO_ENGLISH:
            clause = rng.choice(TO_ENGLISH_PHRASINGS)
            instruction, output = clause[0].upper() + clause[1:] + ".", english
        else:
            instruction, output = tasks.instruction_for([task], rng), tasks.apply_task(task, text)
        if (instruction, text) in seen:
            continue
        seen.add((instruction, text))
        steps = [{"task": task, "output": output}]
        out.append({"instruction": instruction, "input": text, "output": output, "task": task, "steps": steps,
                    "n_steps": 1, "lang": lang})  # fmt: skip
    raise RuntimeError(f"input space exhausted: only {len(out)} of {n} distinct {lang} records for task {task!r}")


def _translated(records: list[dict[str, Any]], seed: int, fraction: float) -> list[dict[str, Any]]:
    """`manual_translate.translate_sit` on English records (§4.1.1), its "translate" step renamed `TO_ENGLISH`."""
    out = manual_translate.translate_sit(records, _lexicon, seed=seed, langs=["fr"], fraction=fraction)
    for record in out:
        if record.get("sit") == "translate":
            record["steps"][0]["task"] = TO_ENGLISH
            record["task"] = f"{TO_ENGLISH}>{record['task']}"
    return out


def _check(unseen: Sequence[str], fraction: float, sizes: dict[str, int]) -> list[str]:
    if isinstance(unseen, str) or any(name not in SIT_TASKS for name in unseen):
        raise ValueError(f"unseen_tasks = {unseen!r}: give a list of tasks from {', '.join(SIT_TASKS)}")
    seen = [name for name in SIT_TASKS if name not in unseen]
    if not seen or not unseen:
        raise ValueError(f"unseen_tasks = {list(unseen)!r}: leave at least one of {', '.join(SIT_TASKS)} on each side")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction = {fraction!r}; allowed values: 0 < fraction <= 1 (§4.1.1: 1/3)")
    for argument, value in sizes.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{argument}: expected a positive integer, got {value!r}")
    return seen


def _balanced(names: Sequence[str], n: int) -> list[int]:
    return [n // len(names) + (i < n % len(names)) for i in range(len(names))]


def generate_translate_suite(
    seed: int = 0,
    n_train_per_task: int = 2000,
    n_eval_per_split: int = 200,
    unseen_tasks: Sequence[str] = DEFAULT_UNSEEN,
    fraction: float = 1 / 3,
    to_english_in_it: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    """The translate-then-answer suite, keyed by the names in `SPLITS` (see the module docstring).

    - `translate_train_it`: `n_train_per_task` single-step records per (task, input language): every task of
      `EN_TASKS` on English inputs, of `FR_TASKS` on French inputs, and (`to_english_in_it`) `TO_ENGLISH` on French.
    - `translate_train_sit`: the same records in the same order, except that `round(fraction × n)` of the n English
      records of the seen tasks (`SIT_TASKS` minus `unseen_tasks`) are replaced by `manual_translate.translate_sit`'s
      version: French input, "First, translate the input into English, then <instruction>", output = English input +
      "\\n" + answer (§4.1.1), split "translate_train_sit".
    - `translate_eval_seen` / `translate_eval_unseen`: `n_eval_per_split` translate-then-answer records (the same
      transform with fraction 1) on French inputs, balanced over the seen / unseen tasks; gold `steps` = [the English
      input, the answer on it], so both models are scored on the same prompts, as the authors ran IT and SIT on the
      same XQuAD files (`seqit_utils.evaluate.eval_sets.xquad_sets`).
    Every split draws from its own `random.Random(f"{seed}:{split}")`; the transform draws from `seed`.
    """
    seen_tasks = _check(unseen_tasks, fraction, {"n_train_per_task": n_train_per_task,
                                                 "n_eval_per_split": n_eval_per_split})  # fmt: skip
    pairs = [(name, "en") for name in EN_TASKS] + [(name, "fr") for name in FR_TASKS]
    pairs += [(TO_ENGLISH, "fr")] if to_english_in_it else []
    rng, taken = random.Random(f"{seed}:{SPLITS[0]}"), set()
    it = [r for task, lang in pairs for r in _sample(rng, task, lang, n_train_per_task, False, taken)]
    rng.shuffle(it)  # interleave tasks so that any prefix is balanced
    it = [{"id": f"{SPLITS[0]}-{i:06d}", **record, "split": SPLITS[0]} for i, record in enumerate(it)]
    eligible = [i for i, r in enumerate(it) if r["lang"] == "en" and r["task"] in seen_tasks]
    sit = list(it)
    for i, record in zip(eligible, _translated([it[i] for i in eligible], seed, fraction), strict=True):
        sit[i] = record | {"split": SPLITS[1]} if record.get("sit") else record
    suite = {SPLITS[0]: it, SPLITS[1]: sit}
    for split, names in ((SPLITS[2], seen_tasks), (SPLITS[3], list(unseen_tasks))):
        rng, taken = random.Random(f"{seed}:{split}"), set()
        english = [r for name, n in zip(names, _balanced(names, n_eval_per_split), strict=True)
                   for r in _sample(rng, name, "en", n, True, taken)]  # fmt: skip
        rng.shuffle(english)
        english = [{"id": f"{split}-{i:06d}", **record, "split": split} for i, record in enumerate(english)]
        suite[split] = [r | {"split": split} for r in _translated(english, seed, 1.0)]
    return suite


def summarize_translate(suite: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Records per split, and per split the count of records by `task` and by input language (JSON-ready)."""
    return {
        "records": {split: len(records) for split, records in suite.items()},
        "tasks": {
            split: dict(sorted(Counter(r["task"] for r in records).items())) for split, records in suite.items()
        },
        "langs": {
            split: dict(sorted(Counter(r["lang"] for r in records).items())) for split, records in suite.items()
        },
    }
