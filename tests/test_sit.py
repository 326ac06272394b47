"""Manual SIT transforms (§2.2, §4.1, App. A) on the real Alpaca, CommonsenseQA and XQuAD files."""

from __future__ import annotations

import copy
import logging

import pytest

from seqit_utils.data.loaders import load
from seqit_utils.sit import manual as sit
from seqit_utils.sit.manual_records import sequential_instruction
from seqit_utils.sit.manual_translate import translate_sit

XQUAD_LANGS = ("de", "es", "zh")
# A deterministic offline "paraphraser": a few synonyms, then the sentence's words in reverse order.
SYNONYMS = {"following": "subsequent", "sentence": "phrase", "given": "provided", "the": "this", "a": "one"}


def fake_paraphrase(texts: list[str]) -> list[str]:
    return [" ".join(SYNONYMS.get(word.lower(), word) for word in reversed(text.split())) for text in texts]


@pytest.fixture(scope="module")
def alpaca(shared_data):
    return load("alpaca", data_dir=shared_data)


@pytest.fixture(scope="module")
def xquad(shared_data):
    """English XQuAD records and the parallel de/es/zh inputs keyed by question id (lang -> {id -> input})."""
    english = load("xquad", lang="en", data_dir=shared_data)
    parallel = {
        lang: {r["id"]: r["input"] for r in load("xquad", lang=lang, data_dir=shared_data)} for lang in XQUAD_LANGS
    }
    return english, parallel


def _changed(out: list[dict], transform: str) -> list[dict]:
    return [record for record in out if record.get("sit") == transform]


# --- instruction wording ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instruction", "tail"),
    [
        ("Sort the list", "sort the list."),  # a final stop is added
        ("  What is the capital of France?  ", "what is the capital of France?"),
        ("Rewrite the sentence:", "rewrite the sentence:"),
        ("I want a poem.", "I want a poem."),  # "I" keeps its capital
        ("I'm stuck, help.", "I'm stuck, help."),
        ("USA facts: list three.", "USA facts: list three."),  # acronyms too
        ("GPT-3 is a model. Explain it.", "GPT-3 is a model. Explain it."),
        ("JavaScript: explain closures", "JavaScript: explain closures."),
        ("A dog barks. Why?", "a dog barks. Why?"),
    ],
)
def test_sequential_instruction_wording(instruction, tail):
    assert sequential_instruction(["repeat the input"], instruction) == "First repeat the input, then " + tail


def test_sequential_instruction_chains_and_openings():
    chained = sequential_instruction(["repeat the input", "paraphrase it"], "Classify it.")
    assert chained == "First repeat the input, then paraphrase it, then classify it."
    translated = sequential_instruction(["translate the input into English"], "Answer.", opening="First,")
    assert translated == "First, translate the input into English, then answer."


@pytest.mark.parametrize(
    ("clauses", "instruction"), [([], "Sort."), (["repeat the input"], "  "), ("repeat", "Sort.")]
)
def test_sequential_instruction_rejects_empty_parts(clauses, instruction):
    with pytest.raises(ValueError, match="empty|non-empty"):
        sequential_instruction(clauses, instruction)


# --- repeat ----------------------------------------------------------------------------------------------------------


def test_repeat_on_real_alpaca(alpaca):
    before = copy.deepcopy(alpaca)
    out = sit.repeat_sit(alpaca)
    changed = _changed(out, "repeat")
    with_input = [r for r in alpaca if r["input"].strip()]
    print(f"alpaca_data_1k: {len(alpaca)} records, {len(with_input)} with input, {len(changed)} repeat records")
    assert len(alpaca) == 750 and len(with_input) == len(changed) == 301  # shared/data's 750-record sample
    for old, new in zip(alpaca, out, strict=True):
        if not old["input"].strip():
            assert new == old and new is not old
            continue
        assert new["id"] == old["id"] + "#repeat" and new["source_id"] == old["id"] and new["sit"] == "repeat"
        assert new["instruction"].startswith("First repeat the input, then ")
        assert new["input"] == old["input"]
        assert new["output"] == old["input"] + "\n" + old["output"]
        assert new["steps"] == [
            {"task": "repeat", "output": old["input"]},
            {"task": "answer", "output": old["output"]},
        ]
        assert new["n_steps"] == 2
    merged = sit.build_sit_dataset(alpaca, "repeat", seed=0)
    assert len(merged) == len(alpaca) + len(changed) == 1051
    assert merged[: len(alpaca)] == alpaca and merged[len(alpaca) :] == changed  # originals first, then modified
    assert len({r["id"] for r in merged}) == len(merged)
    assert sit.it_dataset(alpaca) == alpaca
    assert alpaca == before  # nothing mutated


def test_repeat_matches_authors_commonsenseqa_file(shared_data):
    """Authors' seqit_eval/test/commonsense_qa_repeat.json: record i is CSQA dev line i (shared/data MANIFEST)."""
    ours = sit.repeat_sit(load("commonsenseqa", split="dev", data_dir=shared_data))
    theirs = load("seqit_eval_test", name="commonsense_qa_repeat", data_dir=shared_data)
    assert len(ours) == len(theirs) == 916
    for mine, their in zip(ours, theirs, strict=True):
        assert mine["input"] == their["input"]
        assert mine["steps"][-1]["output"] == their["output"]  # their eval file holds the answer key only
        assert mine["output"] == mine["input"] + "\n" + their["output"]
        # Same task wording after the opening: ours "First repeat the input, then …", theirs "Please repeat …".
        assert mine["instruction"].removeprefix("First ") == their["instruction"].removeprefix("Please ")


def test_repeat_keeps_existing_steps_after_the_new_one():
    record = {"id": "r", "instruction": "First reverse the items, then sort them.", "input": "b a c"}
    record |= {
        "output": "c a b\na b c",
        "steps": [{"task": "reverse", "output": "c a b"}, {"task": "sort", "output": "a b c"}],
    }
    new = sit.repeat_sit([record])[0]
    assert new["instruction"] == "First repeat the input, then first reverse the items, then sort them."
    assert [s["task"] for s in new["steps"]] == ["repeat", "reverse", "sort"] and new["n_steps"] == 3
    assert new["output"] == "b a c\nc a b\na b c"


# --- paraphrase and chains -------------------------------------------------------------------------------------------


def test_paraphrase_with_offline_callable_on_alpaca(alpaca):
    before = copy.deepcopy(alpaca)
    calls = []
    out = sit.paraphrase_sit(alpaca, lambda texts: calls.append(len(texts)) or fake_paraphrase(texts))
    changed = _changed(out, "paraphrase")
    assert calls == [301] and len(changed) == 301  # one batched call over the inputs
    for new in changed:
        old = alpaca[out.index(new)]
        para = fake_paraphrase([old["input"]])[0]
        assert new["instruction"].startswith("First paraphrase the input, then ")
        assert new["output"] == para + "\n" + old["output"] and new["id"] == old["id"] + "#paraphrase"
        assert new["steps"] == [{"task": "paraphrase", "output": para}, {"task": "answer", "output": old["output"]}]
    assert alpaca == before


def test_paraphrase_callable_is_validated(alpaca):
    with pytest.raises(ValueError, match=r"returned 300 strings for 301 inputs"):
        sit.paraphrase_sit(alpaca, lambda texts: fake_paraphrase(texts)[:-1])
    with pytest.raises(ValueError, match="NoneType at position 0"):
        sit.paraphrase_sit(alpaca, lambda texts: [None] * len(texts))
    with pytest.raises(ValueError, match="returned a str"):
        sit.paraphrase_sit(alpaca, lambda texts: "one string")


def test_empty_paraphrase_skips_and_counts_the_record(alpaca, caplog):
    def blank_first(texts):
        return ["  ", *fake_paraphrase(texts[1:])]

    with caplog.at_level(logging.INFO, logger="seqit_utils.sit.manual"):
        out = sit.paraphrase_sit(alpaca, blank_first)
    assert len(_changed(out, "paraphrase")) == 300
    assert "1 of 301 records skipped (empty paraphrase)" in caplog.text
    first = next(i for i, r in enumerate(alpaca) if r["input"].strip())
    assert out[first] == alpaca[first]


def test_chain_repeat_then_paraphrase(alpaca):
    out = sit.chain(alpaca, ["repeat", "paraphrase"], paraphrase=fake_paraphrase)
    changed = _changed(out, "repeat+paraphrase")
    assert len(changed) == 301
    new = changed[0]
    old = alpaca[out.index(new)]
    assert new["instruction"].startswith("First repeat the input, then paraphrase it, then ")
    assert new["id"] == old["id"] + "#repeat+paraphrase" and new["n_steps"] == 3
    assert [s["task"] for s in new["steps"]] == ["repeat", "paraphrase", "answer"]
    assert new["output"] == "\n".join([old["input"], fake_paraphrase([old["input"]])[0], old["output"]])
    after_paraphrase = sit.chain(alpaca[:5], ["paraphrase", "repeat"], paraphrase=fake_paraphrase)
    assert any(
        r["instruction"].startswith("First paraphrase the input, then repeat the input, then ")
        for r in after_paraphrase
    )


def test_chain_rejects_unknown_or_unbacked_intermediates(alpaca):
    with pytest.raises(ValueError, match="repeat, paraphrase"):
        sit.chain(alpaca, ["repeat", "summarise"])
    with pytest.raises(ValueError, match="repeat, paraphrase"):
        sit.build_sit_dataset(alpaca, "chain", seed=0)  # no intermediates given
    with pytest.raises(ValueError, match="needs paraphrase="):
        sit.chain(alpaca, ["repeat", "paraphrase"])
    with pytest.raises(ValueError, match="allowed values: repeat, paraphrase, translate, caption, chain"):
        sit.build_sit_dataset(alpaca, "summarise", seed=0)


# --- translate (§4.1.1) ----------------------------------------------------------------------------------------------


def test_translate_replaces_a_third_of_real_xquad_inputs(xquad):
    english, parallel = xquad
    before = copy.deepcopy(english)
    out = translate_sit(english, parallel, seed=0)
    changed = _changed(out, "translate")
    assert len(english) == 839 and len(changed) == round(839 / 3) == 280  # 279.67 rounds up (round, not floor)
    by_id = {r["id"]: r for r in english}
    for new in changed:
        old = by_id[new["source_id"]]
        assert new["lang"] in XQUAD_LANGS and new["input"] == parallel[new["lang"]][old["id"]] != old["input"]
        assert new["output"] == old["input"] + "\n" + old["output"] and new["output"].startswith(old["input"] + "\n")
        assert new["instruction"] == "First, translate the input into English, then a" + old["instruction"][1:]
        assert new["steps"] == [
            {"task": "translate", "output": old["input"]},
            {"task": "answer", "output": old["output"]},
        ]
    unchanged = [new for new in out if new.get("sit") is None]
    assert len(unchanged) == 839 - 280 and all(new == by_id[new["id"]] for new in unchanged)
    assert {r["lang"] for r in changed} == set(XQUAD_LANGS)
    assert english == before
    merged = sit.build_sit_dataset(english, "translate", seed=0, translations=parallel)
    assert len(merged) == 839 + 280 and merged[839:] == changed


def test_translate_is_seeded(xquad):
    english, parallel = xquad

    def picked(seed):
        return [(r["id"], r["lang"]) for r in _changed(translate_sit(english, parallel, seed=seed), "translate")]

    assert picked(0) == picked(0)
    assert {i for i, _ in picked(0)} != {i for i, _ in picked(1)}
    # The same seed selects the same records whether translations come from parallel data or a callable.
    out = translate_sit(english, lambda texts, lang: [f"<{lang}> {t}" for t in texts], seed=0, langs=sorted(parallel))
    assert [(r["id"], r["lang"]) for r in _changed(out, "translate")] == picked(0)
    assert all(r["input"].startswith(f"<{r['lang']}> ") for r in _changed(out, "translate"))


def test_translate_inputs_are_validated(xquad):
    english, parallel = xquad
    german = translate_sit(english, parallel["de"], seed=3, langs=["de"])  # flat id -> translation mapping
    assert {r["lang"] for r in _changed(german, "translate")} == {"de"}
    with pytest.raises(ValueError, match="one language"):
        translate_sit(english, parallel["de"], seed=0, langs=["de", "es"])
    with pytest.raises(ValueError, match=r"langs \['fr'\] have no translations"):
        translate_sit(english, parallel, seed=0, langs=["fr"])
    with pytest.raises(ValueError, match="no de translation"):
        translate_sit(english, {"de": {}}, seed=0)
    with pytest.raises(ValueError, match="strings for"):
        translate_sit(english, lambda texts, lang: texts[:1], seed=0, langs=["de"])


# --- caption (§4.1.2) ------------------------------------------------------------------------------------------------

VQA = [
    {"id": "vqa/1", "instruction": "", "input": "What color is the bus?", "output": "red", "image_id": 9,
     "image": "coco/9.jpg", "caption": "A red double-decker bus drives down a city street."},
    {"id": "vqa/2", "instruction": "", "input": "How many dogs are there?", "output": "2", "image_id": 12,
     "caption": "Two dogs sleep on a couch."},
]  # fmt: skip


def test_caption_then_answer():
    before = copy.deepcopy(VQA)
    out = sit.caption_sit(VQA)
    assert [r["instruction"] for r in out] == [
        "First describe the image, then answer the input question based on the image."
    ] * 2
    assert out[0]["output"] == "A red double-decker bus drives down a city street.\nred"
    assert out[0]["steps"] == [{"task": "caption", "output": VQA[0]["caption"]}, {"task": "answer", "output": "red"}]
    assert (out[0]["image"], out[0]["image_id"], out[1]["image_id"]) == ("coco/9.jpg", 9, 12)
    baseline = sit.caption_it(VQA)
    assert [r["instruction"] for r in baseline] == ["Answer the input question based on the image."] * 2
    merged = sit.build_sit_dataset(VQA, "caption", seed=0)
    assert merged == baseline + out and before == VQA
    with pytest.raises(ValueError, match=r"'vqa/3' \(index 0\): field 'caption'"):
        sit.caption_sit([{**VQA[0], "id": "vqa/3", "caption": ""}])


# --- stats, probe, errors --------------------------------------------------------------------------------------------

TINY = [
    {"id": "a", "instruction": "Sort them.", "input": "b a", "output": "a b"},  # 10, 3, 3 characters
    {"id": "b", "instruction": "Say hi.", "input": "", "output": "hi"},  # 7, 0, 2
]


def test_dataset_stats_on_a_tiny_set():
    data = sit.build_sit_dataset(TINY, "repeat", seed=0)  # + "First repeat the input, then sort them." (39), 3, 7
    stats = sit.dataset_stats(data, tokenizer=str.split)
    assert stats == {
        "n": 3, "n_with_input": 2, "n_sequential": 1, "by_transform": {"repeat": 1},
        "mean_instruction_chars": (10 + 7 + 39) / 3, "mean_input_chars": 2.0, "mean_output_chars": 4.0,
        "mean_instruction_tokens": (2 + 2 + 7) / 3, "mean_input_tokens": 4 / 3, "mean_output_tokens": (2 + 1 + 4) / 3,
    }  # fmt: skip
    assert sit.dataset_stats([])["mean_output_chars"] == 0.0


def test_dataset_stats_with_a_transformers_tokenizer(alpaca):
    pytest.importorskip("transformers")
    from seqit_utils.train.tiny import train_tokenizer

    texts = [r[k] for r in alpaca for k in ("instruction", "input", "output")]
    tokenizer = train_tokenizer(texts, vocab_size=500, model_max_length=512)
    stats = sit.dataset_stats(alpaca, tokenizer=tokenizer)
    expected = sum(len(tokenizer.encode(r["output"], add_special_tokens=False)) for r in alpaca) / len(alpaca)
    assert stats["mean_output_tokens"] == expected > stats["mean_instruction_tokens"] > 0


def test_probe_variants_on_commonsenseqa(shared_data):
    record = load("commonsenseqa", split="dev", data_dir=shared_data, limit=1)[0]
    variants = sit.probe_variants(record)
    assert set(variants) == {"single", "repeat", "paraphrase"}
    assert variants["single"]["instruction"] == record["instruction"] and variants["single"]["n_steps"] == 1
    assert variants["repeat"] == sit.repeat_sit([record])[0]
    para = variants["paraphrase"]
    assert (
        para["instruction"]
        == "First paraphrase the input, then select the correct choice to answer the question in the input."
    )
    assert para["output"] is None and para["steps"] == [
        {"task": "paraphrase", "output": None},
        {"task": "answer", "output": record["output"]},
    ]
    with pytest.raises(ValueError, match="field 'input' is empty"):
        sit.probe_variants(TINY[1])


@pytest.mark.parametrize(
    ("records", "pattern"),
    [
        ([TINY[0], {"id": "x", "instruction": "Do.", "output": "y"}], r"'x' \(index 1\): field 'input' is missing"),
        ([{"instruction": "Do.", "input": "", "output": "y"}], r"record 0: field 'id' is missing"),
        ([{**TINY[0], "output": 3}], r"record 'a' \(index 0\): field 'output' is a int, not a string"),
        ([{**TINY[0], "instruction": " "}], r"record 'a' \(index 0\): field 'instruction' is empty"),
    ],
)  # fmt: skip
def test_malformed_records_name_the_record_and_field(records, pattern):
    with pytest.raises(ValueError, match=pattern):
        sit.repeat_sit(records)


def test_transforms_share_no_nested_objects_with_their_inputs(shared_data):
    records = load("commonsenseqa", split="dev", data_dir=shared_data, limit=3)
    records.append({**records[0], "id": "no-input", "input": ""})  # stays as a copy of the original
    before = copy.deepcopy(records)
    outputs = [
        *sit.repeat_sit(records),
        *sit.chain(records, ["repeat", "paraphrase"], paraphrase=fake_paraphrase),
        *translate_sit(records, lambda texts, lang: texts, seed=0, langs=["de"], fraction=1.0),
        *sit.build_sit_dataset(records, "repeat", seed=0),
        *sit.probe_variants(records[0]).values(),
    ]
    for record in outputs:
        record["choices"][0]["text"] = "mutated"
        record["steps"] = record.get("steps", [])
        record["steps"].append({"task": "extra", "output": ""})
    assert records == before
