"""Evaluation prompt sets of §4 as records: XQuAD translate-then-answer (§4.1.1, Tables 2/9), MGSM en-CoT vs
trans-CoT (Tables 10/11) and CommonsenseQA single / repeat / paraphrase (Tables 7/8), built from
`seqit_utils.data.loaders`.

Every builder returns `{variant: records}`; the variants of one call hold the same items in the same order (same
`source_id`). A record has `id` (`source_id` for the single-step variant, else `<source_id>#<variant or sit>`),
`instruction`, `input`, `output` (the gold response: the step outputs joined by "\\n"; None when some step's gold is
unknown, as in `seqit_utils.sit.manual`), `steps` ([{"task", "output"}], output None where unknown), `n_steps`,
`variant`,
`source_id`, `prompt_file` (the authors' processed file the prompt was checked against, or None) and the fields its
scorer in `seqit_utils.evaluate.scoring` reads. `limit` keeps N items: the first N in file order, or with `seed` a
`random.Random(seed)` sample kept in file order; XQuAD and MGSM are parallel, so a seed picks the same items in every
language.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from typing import Any

from seqit_utils.data import author_loaders, loaders, schema
from seqit_utils.data.sources import DataNotFoundError, MalformedRecordError
from seqit_utils.sit import manual as sit
from seqit_utils.sit import manual_records, manual_translate

Record = dict[str, Any]
PathArg = schema.PathArg
WORDINGS = ("authors", "paper")

# ---------------------------------------------------------------- XQuAD (§4.1.1, Tables 2/9)
XQUAD_SEEN = ("de", "es", "ru", "zh")  # §4.1.1: languages of the multilingual Alpaca training data
XQUAD_UNSEEN = ("ar", "el", "hi", "th", "tr", "vi")
XQUAD_EVAL_LANGS = ("en", *XQUAD_SEEN, *XQUAD_UNSEEN)
# The authors' processed files seqit_eval/test/xquad_base_{de,es,ru,zh}.json and xquad_trans_{ar,el,hi,th,tr,vi}.json
# all carry this instruction with input "Context: <context>\nQuestion: <question>" (stripped); their scripts run the
# IT and the SIT model on these same files. Gold answer: in the language for base files, the English one for trans.
AUTHORS_XQUAD_SIT = (
    "First, translate the input into English. Then, answer the translated question based on the translated context. "
    "Your answer should be directly extracted from the context, and it should be a single entity, name, or number, "
    "not a sentence."
)
# The direct-answer counterpart in the authors' XQuAD few-shot construction script; no processed file uses it.
AUTHORS_XQUAD_IT = (
    "Answer the question based on the context. Your answer should be directly extracted from the context, and it "
    "should be a single entity, name, or number, not a sentence."
)
# The training-side wording (`manual_translate.translate_sit` on the loader's XQuAD instruction, "Passage: …" input).
PAPER_XQUAD_SIT = manual_records.sequential_instruction(
    [manual_translate.TRANSLATE_CLAUSE], schema.XQUAD_INSTRUCTION, opening="First,"
)


def xquad_sets(
    lang: str,
    *,
    wording: str = "authors",
    accept_english: bool = False,
    data_dir: PathArg = None,
    limit: int | None = None,
    seed: int | None = None,
) -> dict[str, list[Record]]:
    """XQuAD in `lang` as `{"it": direct-answer prompts, "sit": translate-then-answer prompts}` (§4.1.1).

    `wording="authors"`: the SIT prompt is `AUTHORS_XQUAD_SIT` on "Context: …\\nQuestion: …", checked item by item
    against the authors' processed file when it is present (`prompt_file`; absent → built the same way from XQuAD);
    the IT prompt is `AUTHORS_XQUAD_IT` on the same input. `wording="paper"`: `PAPER_XQUAD_SIT` / the loader's
    `XQUAD_INSTRUCTION` on "Passage: …\\nQuestion: …". SIT steps: translate (gold = the parallel English item in the
    same layout), answer. `answers` (for `scoring.score_xquad`): the item's answers in `lang`, except SIT prompts of
    unseen languages, whose gold is English as in the authors' trans files; `accept_english` appends the English
    answers not already there; `answers_en` always holds them. English has no translation step: both sets are the
    direct-answer prompt (the authors' `xquad_base_en.json`).
    """
    schema.check_option("lang", lang, XQUAD_EVAL_LANGS)
    schema.check_option("wording", wording, WORDINGS)
    records = loaders.load_xquad(lang=lang, data_dir=data_dir)
    english = {r["id"]: r for r in (records if lang == "en" else loaders.load_xquad(lang="en", data_dir=data_dir))}
    missing = [r["id"] for r in records if r["id"] not in english]
    if missing:
        raise MalformedRecordError(f"xquad.{lang}: {len(missing)} question ids are not in xquad.en, e.g. {missing[0]}")
    name = f"xquad_{'trans' if lang in XQUAD_UNSEEN else 'base'}_{lang}"
    authors = _authors_file(name, data_dir, len(records)) if wording == "authors" else None
    prompt_file = f"seqit_eval/test/{name}.json" if authors else None
    layout = _context_input if wording == "authors" and lang != "en" else (lambda record: record["input"])
    sets: dict[str, list[Record]] = {"it": [], "sit": []}
    indices = _select(len(records), limit, seed)
    for i in indices:
        record, en = records[i], english[records[i]["id"]]
        target, answers_en = list(record["answers"]), list(en["answers"])
        extra = [a for a in answers_en if a not in target] if accept_english else []
        common = {"source_id": record["id"], "lang": lang, "question": record["question"], "answers_en": answers_en}
        it_instruction = AUTHORS_XQUAD_IT if layout is _context_input else schema.XQUAD_INSTRUCTION
        it = _record(record["id"], it_instruction, layout(record), [("answer", target[0])], "it", **common)
        it.update(answers=target + extra, prompt_file=prompt_file if lang == "en" else None)
        if lang == "en":
            sets["it"].append(it)
            sets["sit"].append({**copy.deepcopy(it), "variant": "sit"})
            continue
        gold = answers_en if lang in XQUAD_UNSEEN else target
        gold = gold + [a for a in answers_en if a not in gold] if accept_english else gold
        instruction = AUTHORS_XQUAD_SIT if wording == "authors" else PAPER_XQUAD_SIT
        steps = [("translate", layout(en)), ("answer", gold[0])]
        seq = _record(
            f"{record['id']}#translate", instruction, layout(record), steps, "sit", **common, sit="translate"
        )
        seq.update(answers=gold, prompt_file=prompt_file)
        sets["it"].append(it)
        sets["sit"].append(seq)
    if authors:
        for i, record in zip(indices, sets["it" if lang == "en" else "sit"], strict=True):
            _check_authors(authors[i], record, record["answers"][0])
    return sets


def _context_input(record: Record) -> str:
    return f"Context: {record['context'].strip()}\nQuestion: {record['question'].strip()}"


# ---------------------------------------------------------------- MGSM (Tables 10/11)
MGSM_VARIANTS = ("en_cot", "trans_cot")
# As the authors ran Tables 10/11 (hanxuhu/SeqIns eval/mgsm/run_eval.py, modes cot-en / trans-cot, 8-shot, chat
# format): every demonstration and the test query open with the mode's prefix, then "Question: <question>".
MGSM_PREFIX = {
    "en_cot": "First, let's think step-by-step about the question in English. Then, answer the question, ",
    "trans_cot": (
        "First, let's translate the question to English. Then, think step-by-step about the question. "
        "Finally, answer the question, "
    ),
}
MGSM_TRANSLATION_HEADER = "Translation the question into English:"  # [sic], the authors' demonstration wording
MGSM_FINAL = "The Answer is: "  # the authors' demonstrations end in this line; scoring.extract_number reads it


def mgsm_sets(
    lang: str, *, n_shot: int = 8, data_dir: PathArg = None, limit: int | None = None, seed: int | None = None
) -> dict[str, list[Record]]:
    """MGSM in `lang` as `{"en_cot": …, "trans_cot": …}` 8-shot prompts (Tables 10/11) from the authors' JSONL.

    `instruction` is the whole user turn as the authors built it: `n_shot` demonstrations (the first `n_shot` of the
    authors' 8 exemplars), each "<prefix>Question: <exemplar question>\\nAnswer: <response>", joined and followed by
    "<prefix>Question: <test question>" with "\\n\\n"; `input` is "". Responses reason in English (the parallel
    English exemplar's chain of thought, its final sentence replaced by "The Answer is: <number>"); trans-CoT
    responses first give "Translation the question into English:" and the English question. Kept as the authors
    had them: exemplar questions carry their own "Question:" label, so demonstrations read "Question: Question: …"
    in English ("Question: 问题：…" in Chinese). Not reproduced: the authors appended " Answer:" after the chat
    template's assistant tag. Gold: `answer_number` (`scoring.score_gsm`); steps [translate (English test question,
    trans-CoT only), cot (unknown: None), answer].
    """
    schema.check_option("lang", lang, schema.MGSM_LANGS)
    if isinstance(n_shot, bool) or not isinstance(n_shot, int) or not 0 <= n_shot <= 8:
        raise ValueError(f"n_shot={n_shot!r} is not allowed; allowed values: an int from 0 to 8")
    test, shots = (
        author_loaders.load_seqit_eval_mgsm(lang=lang, part=p, data_dir=data_dir) for p in ("test", "examples")
    )
    test_en, shots_en = (test, shots)
    if lang != "en":
        test_en, shots_en = (
            author_loaders.load_seqit_eval_mgsm(lang="en", part=p, data_dir=data_dir) for p in ("test", "examples")
        )
    _check_parallel(test, test_en)
    _check_parallel(shots, shots_en)
    demos = {
        v: [_demo(v, shot, en) for shot, en in zip(shots[:n_shot], shots_en, strict=False)] for v in MGSM_VARIANTS
    }
    sets: dict[str, list[Record]] = {v: [] for v in MGSM_VARIANTS}
    prompt_file = f"seqit_eval/eval/mgsm/test/{lang}.jsonl"
    for i in _select(len(test), limit, seed):
        item, answer = test[i], str(test[i]["answer_number"])
        for variant in MGSM_VARIANTS:
            query = f"{MGSM_PREFIX[variant]}Question: {item['input']}"
            steps = [("translate", test_en[i]["input"])] if variant == "trans_cot" else []
            steps += [("cot", None), ("answer", answer)]
            fields = {"source_id": item["id"], "lang": lang, "question": item["input"], "n_shot": n_shot}
            record = _record(f"{item['id']}#{variant}", "\n\n".join([*demos[variant], query]), "", steps, variant)
            record.update(fields, answer_number=item["answer_number"], prompt_file=prompt_file)
            sets[variant].append(record)
    return sets


def _demo(variant: str, shot: Record, en: Record) -> str:
    reasoning, marker, _ = en["output"].rpartition("The answer is")
    if not marker:
        raise MalformedRecordError(f"{en['id']}: the English exemplar's answer has no final 'The answer is …'")
    response = f"{reasoning.strip()}\n{MGSM_FINAL}{shot['answer_number']}"
    if variant == "trans_cot":
        response = f"{MGSM_TRANSLATION_HEADER}\n{en['input']}\n{response}"
    return f"{MGSM_PREFIX[variant]}Question: {shot['input']}\nAnswer: {response}"


def _check_parallel(records: Sequence[Record], english: Sequence[Record]) -> None:
    """MGSM is parallel: item i of every language is English item i (same count, same answer number)."""
    numbers, numbers_en = [r["answer_number"] for r in records], [r["answer_number"] for r in english]
    if numbers != numbers_en:
        bad = next((i for i, (a, b) in enumerate(zip(numbers, numbers_en, strict=False)) if a != b), None)
        raise MalformedRecordError(
            f"{records[0]['id'] if records else 'MGSM'}: not parallel to English "
            f"({len(numbers)} vs {len(numbers_en)} items; first differing answer_number at index {bad})"
        )


# ---------------------------------------------------------------- CommonsenseQA (Tables 7/8)
CSQA_VARIANTS = ("single", "repeat", "paraphrase")
# The authors' seqit_eval/test/commonsense_qa_repeat.json (CSQA dev order; output = the answer key alone).
AUTHORS_CSQA_REPEAT = "Please repeat the input, then select the correct choice to answer the question in the input."


def csqa_sets(
    *,
    wording: str = "paper",
    paraphrase: sit.Paraphraser | None = None,
    split: str = "dev",
    data_dir: PathArg = None,
    limit: int | None = None,
    seed: int | None = None,
) -> dict[str, list[Record]]:
    """CommonsenseQA as `{"single", "repeat", "paraphrase"}` prompts (Tables 7/8; `sit.probe_variants` per item).

    `wording="paper"`: "First repeat the input, then …" / "First paraphrase the input, then …" (the SIT training
    wording). `wording="authors"` (dev only): the repeat prompt uses the authors' processed-file instruction
    `AUTHORS_CSQA_REPEAT` ("Please repeat …"), checked item by item against the file when present; the other two
    have no processed file and keep the paper wording. The paraphrase step's gold is unknown (None) unless
    `paraphrase` (a batched callable: inputs → paraphrases, e.g. an LLM) is given; it is called once, and an empty
    paraphrase leaves that item's gold unknown. Gold label: `answer_key` (`scoring.score_csqa`).
    """
    schema.check_option("wording", wording, WORDINGS)
    if wording == "authors" and split != "dev":
        raise ValueError(f"wording='authors' needs split='dev' (the authors' file is CSQA dev), got split={split!r}")
    records = loaders.load_commonsenseqa(split=split, data_dir=data_dir)
    authors = _authors_file("commonsense_qa_repeat", data_dir, len(records)) if wording == "authors" else None
    indices = _select(len(records), limit, seed)
    chosen = [records[i] for i in indices]
    variants = [sit.probe_variants(record) for record in chosen]
    sets = {name: [v[name] for v in variants] for name in CSQA_VARIANTS}
    if paraphrase is not None:
        done = sit.paraphrase_sit(chosen, paraphrase)
        sets["paraphrase"] = [
            new if new.get("sit") else old for new, old in zip(done, sets["paraphrase"], strict=True)
        ]
    for name, items in sets.items():
        for record in items:
            record.update(variant=name, source_id=record.get("source_id", record["id"]), prompt_file=None)
    if wording == "authors":
        for i, record in zip(indices, sets["repeat"], strict=True):
            record["instruction"] = AUTHORS_CSQA_REPEAT
            if authors:
                _check_authors(authors[i], record, record["answer_key"])
                record["prompt_file"] = "seqit_eval/test/commonsense_qa_repeat.json"
    return sets


# ---------------------------------------------------------------- shared helpers
def _record(
    id_: str, instruction: str, input_: str, steps: list[tuple[str, str | None]], variant: str, **extra: Any
) -> Record:
    outputs = [output for _, output in steps]
    output = None if None in outputs else "\n".join(outputs)
    gold = [{"task": task, "output": out} for task, out in steps]
    base = {"id": id_, "instruction": instruction, "input": input_, "output": output, "steps": gold}
    return {**base, "n_steps": len(gold), "variant": variant, **extra}


def _authors_file(name: str, data_dir: PathArg, n: int) -> list[Record] | None:
    """The authors' processed file `seqit_eval/test/<name>.json`, None if absent; record i must be dataset item i."""
    try:
        rows = author_loaders.load_seqit_eval_test(name=name, data_dir=data_dir)
    except DataNotFoundError:
        return None
    if len(rows) != n:
        raise MalformedRecordError(f"seqit_eval/test/{name}.json has {len(rows)} records, the dataset has {n}")
    return rows


def _check_authors(row: Record, record: Record, gold: str) -> None:
    """The authors' record must have our instruction and input and, as output, our gold answer."""
    for name, ours in (("instruction", record["instruction"]), ("input", record["input"]), ("output", gold)):
        if row[name] != ours:
            raise MalformedRecordError(
                f"{row['id']} (source_file {row['source_file']}): field {name!r} is {row[name][:80]!r}, expected "
                f"{ours[:80]!r} for item {record['source_id']}; the processed file no longer matches the dataset"
            )


def _select(n: int, limit: int | None, seed: int | None) -> list[int]:
    """Indices of the kept items in file order: all, the first `limit`, or a `Random(seed)` sample of `limit`."""
    if limit is None:
        return list(range(n))
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit={limit!r} is not allowed; allowed values: None or an int >= 0")
    if seed is None:
        return list(range(min(limit, n)))
    return sorted(random.Random(seed).sample(range(n), min(limit, n)))
