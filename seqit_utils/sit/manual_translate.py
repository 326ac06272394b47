"""Translate SIT (§4.1.1): replace a share of the English inputs by a translation, with the instruction "First,
translate the input into English, then <instruction>". Translations come from a batched callable or from parallel
data (a mapping lang -> {id -> translated input}). Counts are logged at INFO on this module's logger.
"""

from __future__ import annotations

import copy
import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from seqit_utils.sit.manual_records import Record, Records, _call_batched, _check, _derive, _instruction, _where

logger = logging.getLogger(__name__)

Translator = Callable[[list[str], str], list[str]]  # batched: (English inputs, language code) -> translations
Translations = Translator | Mapping[str, str] | Mapping[str, Mapping[str, str]]
TRANSLATE_CLAUSE = "translate the input into English"  # §4.1.1, opened by "First,"; 1/3 of the inputs translated


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
