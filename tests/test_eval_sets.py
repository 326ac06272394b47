"""Tests for seqit_utils.evaluate.eval_sets on the real XQuAD, MGSM and CommonsenseQA files and the authors'
processed eval
files in ../shared/data (MANIFEST.md: 839 XQuAD questions per language, ar/hi/th held out; 916 CSQA dev records).

Outputs built from each record's gold `steps` must score 1.0 with `seqit_utils.evaluate.scoring`; shifted (wrong)
golds must
not. Expected prompt strings are typed out here by hand from the files, not copied from the module's constants.
"""

from __future__ import annotations

import json

import pytest

from seqit_utils.data import author_loaders, loaders, schema
from seqit_utils.data.sources import MalformedRecordError
from seqit_utils.evaluate import eval_sets, metrics
from seqit_utils.evaluate.scoring import extract_number, score_csqa, score_gsm, score_xquad

XQUAD_SHARED = ("en", "de", "es", "ru", "zh", "el", "tr", "vi")  # ar, hi, th are held out of shared/data
DE_QUESTION = "Question: Wer gab den ursprünglichen Wikingersiedlern bei ihrer Ankunft eine gemeinsame Identität?"
EN_QUESTION = "Question: Who upon arriving gave the original viking settlers a common identity?"


def _ids(records):
    return [r["source_id"] for r in records]


def _shifted(values):
    return values[1:] + values[:1]


# ---------------------------------------------------------------- XQuAD


@pytest.fixture(scope="module")
def xquad(shared_data):
    return {lang: eval_sets.xquad_sets(lang, data_dir=shared_data) for lang in XQUAD_SHARED}


@pytest.mark.parametrize("lang", XQUAD_SHARED)
def test_xquad_sets_pair_the_same_items_and_match_the_authors_files(xquad, lang):
    it, sit = xquad[lang]["it"], xquad[lang]["sit"]
    assert len(it) == len(sit) == 839
    assert _ids(it) == _ids(sit) == [r["id"] for r in it]
    kind = "trans" if lang in ("el", "tr", "vi") else "base"
    assert {r["prompt_file"] for r in sit} == {f"seqit_eval/test/xquad_{kind}_{lang}.json"}  # checked item by item
    assert {r["n_steps"] for r in sit} == ({1} if lang == "en" else {2})
    assert all(r["output"] == "\n".join(s["output"] for s in r["steps"]) for r in it + sit)


def test_xquad_hand_checked_prompts(xquad):
    it, sit = xquad["de"]["it"][0], xquad["de"]["sit"][0]
    assert sit["instruction"] == (
        "First, translate the input into English. Then, answer the translated question based on the translated "
        "context. Your answer should be directly extracted from the context, and it should be a single entity, name, "
        "or number, not a sentence."
    )
    assert it["instruction"] == (
        "Answer the question based on the context. Your answer should be directly extracted from the context, and it "
        "should be a single entity, name, or number, not a sentence."
    )
    assert it["input"] == sit["input"]
    assert sit["input"].startswith("Context: Vor der Ankunft von Rollo unterschieden sich")
    assert sit["input"].endswith("\n" + DE_QUESTION)
    translation, answer = sit["steps"]
    assert translation["task"] == "translate" and answer == {"task": "answer", "output": "Rollo"}
    assert translation["output"].startswith("Context: Before Rollo's arrival, its populations did not differ")
    assert translation["output"].endswith("\n" + EN_QUESTION)
    assert sit["id"] == "56dde1d966d3e219004dad8d#translate" and it["id"] == "56dde1d966d3e219004dad8d"

    english = xquad["en"]["sit"][0]
    assert english["instruction"] == (
        "Answer the question from the given passage. Your answer should be directly extracted from the passage, and "
        "it should be a single entity, name, or number, not a sentence."
    )
    assert english["input"].startswith("Passage: Before Rollo's arrival") and english["input"].endswith(EN_QUESTION)


def test_xquad_gold_language_follows_the_authors_files(xquad, shared_data):
    # Unseen languages (authors' trans files): the SIT gold is the English answer; IT keeps the Greek one.
    assert xquad["el"]["sit"][0]["answers"] == ["Rollo"] and xquad["el"]["it"][0]["answers"] == ["Ρόλλο"]
    # Seen languages (base files): the answer in the language, in both sets.
    assert xquad["de"]["sit"][3]["answers"] == xquad["de"]["it"][3]["answers"] == ["die Seldschuken"]
    assert xquad["de"]["sit"][3]["answers_en"] == ["Seljuk Turks"]
    loose = eval_sets.xquad_sets("de", accept_english=True, data_dir=shared_data, limit=4)
    assert loose["sit"][3]["answers"] == loose["it"][3]["answers"] == ["die Seldschuken", "Seljuk Turks"]


@pytest.mark.parametrize("lang", ("en", "de", "zh", "el", "vi"))
def test_xquad_gold_steps_score_perfectly(xquad, lang):
    it, sit = xquad[lang]["it"], xquad[lang]["sit"]
    references = None if lang == "en" else [r["steps"][0]["output"] for r in sit]
    followed = None if lang == "en" else 1.0
    _, summary = score_xquad([r["output"] for r in sit], sit, references=references)
    # The recorded gold outputs answer in the item's language: the native columns are exact.
    assert (summary["strict_exact_match_native"], summary["strict_follow_rate"]) == (1.0, followed)
    _, summary = score_xquad([r["output"] for r in it], it)
    assert summary["strict_exact_match_native"] == 1.0
    # An answer alone does not follow the translate step; another item's answer is mostly wrong.
    if references:
        _, summary = score_xquad([r["answers"][0] for r in sit], sit, references=references)
        assert summary["strict_follow_rate"] == 0.0 and summary["strict_exact_match_native"] == 1.0
    _, summary = score_xquad(_shifted([r["output"] for r in it]), it)
    assert summary["strict_exact_match_native"] < 0.1


def test_xquad_paper_wording(shared_data):
    sets = eval_sets.xquad_sets("vi", wording="paper", data_dir=shared_data, limit=2)
    sit, it = sets["sit"][0], sets["it"][0]
    assert sit["instruction"] == (
        "First, translate the input into English, then answer the question from the given passage. Your answer "
        "should be directly extracted from the passage, and it should be a single entity, name, or number, not a "
        "sentence."
    )
    assert it["instruction"] == schema.XQUAD_INSTRUCTION and it["input"] == sit["input"]
    assert sit["input"].startswith("Passage: Trước khi Rollo đến")
    assert sit["steps"][0]["output"].startswith("Passage: Before Rollo's arrival")
    assert sit["prompt_file"] is None and sit["answers"] == ["Rollo"]


def test_xquad_falls_back_to_xquad_files_and_rejects_a_changed_authors_file(shared_data, tmp_path, xquad):
    (tmp_path / "xquad").symlink_to(shared_data / "xquad")
    built = eval_sets.xquad_sets("de", data_dir=tmp_path)  # no seqit_eval folder: built from XQuAD
    assert {r["prompt_file"] for r in built["sit"]} == {None}
    strip = [{k: v for k, v in r.items() if k != "prompt_file"} for r in xquad["de"]["sit"]]
    assert [{k: v for k, v in r.items() if k != "prompt_file"} for r in built["sit"]] == strip

    rows = json.loads((shared_data / "seqit_eval" / "test" / "xquad_base_de.json").read_text(encoding="utf-8"))
    rows[5]["output"] = "something else"
    (tmp_path / "seqit_eval" / "test").mkdir(parents=True)
    (tmp_path / "seqit_eval" / "test" / "xquad_base_de.json").write_text(json.dumps(rows), encoding="utf-8")
    with pytest.raises(MalformedRecordError, match="field 'output'"):
        eval_sets.xquad_sets("de", data_dir=tmp_path)
    assert len(eval_sets.xquad_sets("de", data_dir=tmp_path, limit=5)["sit"]) == 5  # item 5 not selected


def test_xquad_seeded_sample_is_deterministic_and_parallel(shared_data):
    first = eval_sets.xquad_sets("de", data_dir=shared_data, limit=20, seed=3)
    assert first == eval_sets.xquad_sets("de", data_dir=shared_data, limit=20, seed=3)
    other = eval_sets.xquad_sets("de", data_dir=shared_data, limit=20, seed=4)
    assert _ids(first["sit"]) != _ids(other["sit"])
    assert _ids(first["sit"]) == _ids(eval_sets.xquad_sets("vi", data_dir=shared_data, limit=20, seed=3)["it"])
    head = eval_sets.xquad_sets("de", data_dir=shared_data, limit=3)
    assert _ids(head["it"]) == _ids(eval_sets.xquad_sets("de", data_dir=shared_data)["it"])[:3]


@pytest.mark.parametrize(("option", "value"), [("lang", "ro"), ("wording", "mine"), ("limit", -1)])
def test_xquad_rejects_bad_options(shared_data, option, value):
    options = {"lang": "de", "data_dir": shared_data, option: value}
    with pytest.raises(ValueError, match=option):
        eval_sets.xquad_sets(options.pop("lang"), **options)


# ---------------------------------------------------------------- MGSM


@pytest.mark.parametrize("lang", schema.MGSM_LANGS)
def test_mgsm_sets_pair_the_same_items_with_eight_shots(shared_data, lang):
    sets = eval_sets.mgsm_sets(lang, data_dir=shared_data)
    en_cot, trans_cot = sets["en_cot"], sets["trans_cot"]
    assert len(en_cot) == len(trans_cot) == 250 and _ids(en_cot) == _ids(trans_cot)
    tsv = loaders.load_mgsm(lang=lang, data_dir=shared_data)  # the official TSV agrees with the authors' JSONL
    assert [float(r["answer_number"]) for r in en_cot] == [float(r["answer_number"]) for r in tsv]
    for record in en_cot + trans_cot:
        blocks = record["instruction"].split("\n\n")
        assert len(blocks) == 9 and record["input"] == "" and record["output"] is None
        assert blocks[-1] == eval_sets.MGSM_PREFIX[record["variant"]] + "Question: " + record["question"]
    # Every demonstration's final line parses, with the scorer, to its exemplar's answer.
    shots = author_loaders.load_seqit_eval_mgsm(lang=lang, part="examples", data_dir=shared_data)
    for variant in sets:
        demos = sets[variant][0]["instruction"].split("\n\n")[:8]
        answers = [extract_number(demo.split("\nAnswer: ", 1)[1], lang=lang) for demo in demos]
        assert answers == [float(shot["answer_number"]) for shot in shots]


def test_mgsm_hand_checked_prompts(shared_data):
    sets = eval_sets.mgsm_sets("de", data_dir=shared_data, limit=1)
    trans = sets["trans_cot"][0]
    assert trans["instruction"].split("\n\n")[0] == (
        "First, let's translate the question to English. Then, think step-by-step about the question. Finally, "
        "answer the question, Question: Frage: Roger hat 5 Tennisbälle. Er kauft noch 2 Dosen Tennisbälle. In jeder "
        "Dose sind 3 Tennisbälle. Wie viele Tennisbälle hat er jetzt?\n"
        "Answer: Translation the question into English:\n"
        "Question: Roger has 5 tennis balls. He buys 2 more cans of tennis balls. Each can has 3 tennis balls. How "
        "many tennis balls does he have now?\n"
        "Step-by-Step Answer: Roger started with 5 balls. 2 cans of 3 tennis balls each is 6 tennis balls. "
        "5 + 6 = 11.\n"
        "The Answer is: 11"
    )
    assert trans["instruction"].endswith(
        "Finally, answer the question, Question: Janets Enten legen 16 Eier pro Tag. Sie isst drei jeden Morgen zum "
        "Frühstück und backt mit vier jeden Tag Muffins für ihre Freunde. Den Rest verkauft sie täglich auf dem "
        "Bauernmarkt für 2 US-Dollar pro frischem Entenei. Wie viel Dollar nimmt sie täglich auf dem Bauernmarkt ein?"
    )
    assert [s["task"] for s in trans["steps"]] == ["translate", "cot", "answer"]
    assert trans["steps"][0]["output"].startswith("Janet’s ducks lay 16 eggs per day.")
    assert trans["steps"][-1] == {"task": "answer", "output": "18"} and trans["answer_number"] == 18
    en = sets["en_cot"][0]
    assert en["instruction"].startswith(
        "First, let's think step-by-step about the question in English. Then, answer the question, Question: Frage: "
        "Roger hat 5 Tennisbälle."
    )
    assert "\nAnswer: Step-by-Step Answer: Roger started with 5 balls." in en["instruction"]
    assert "Translation the question" not in en["instruction"]
    assert [s["task"] for s in en["steps"]] == ["cot", "answer"] and en["id"].endswith("#en_cot")


@pytest.mark.parametrize("lang", ("en", "de", "fr", "zh", "te"))
def test_mgsm_gold_steps_score_perfectly(shared_data, lang):
    sets = eval_sets.mgsm_sets(lang, data_dir=shared_data)
    for records in sets.values():
        outputs = [
            "\n".join(
                [
                    *(s["output"] for s in r["steps"][:-2]),
                    "Some reasoning.",
                    f"The Answer is: {r['steps'][-1]['output']}",
                ]
            )
            for r in records
        ]
        assert score_gsm(outputs, records)[1]["strict_accuracy"] == 1.0
        assert score_gsm(_shifted(outputs), records)[1]["strict_accuracy"] < 0.1


def test_mgsm_shots_seed_and_options(shared_data):
    zero = eval_sets.mgsm_sets("ja", n_shot=0, data_dir=shared_data, limit=2)["en_cot"][0]
    assert zero["instruction"] == eval_sets.MGSM_PREFIX["en_cot"] + "Question: " + zero["question"]
    two = eval_sets.mgsm_sets("ja", n_shot=2, data_dir=shared_data, limit=1)["trans_cot"][0]
    assert len(two["instruction"].split("\n\n")) == 3 and two["n_shot"] == 2
    first = eval_sets.mgsm_sets("sw", data_dir=shared_data, limit=10, seed=1)
    assert first == eval_sets.mgsm_sets("sw", data_dir=shared_data, limit=10, seed=1)
    indices = [int(i.rsplit("/", 1)[1]) for i in _ids(first["en_cot"])]
    assert indices == sorted(indices) and indices != list(range(10))
    bengali = eval_sets.mgsm_sets("bn", data_dir=shared_data, limit=10, seed=1)["trans_cot"]
    assert [i.replace("/bn/", "/sw/") for i in _ids(bengali)] == _ids(first["trans_cot"])  # parallel sample
    for bad in ({"n_shot": 9}, {"n_shot": True}):
        with pytest.raises(ValueError, match="n_shot"):
            eval_sets.mgsm_sets("en", data_dir=shared_data, **bad)
    with pytest.raises(ValueError, match="lang"):
        eval_sets.mgsm_sets("ko", data_dir=shared_data)


# ---------------------------------------------------------------- CommonsenseQA


@pytest.fixture(scope="module")
def csqa(shared_data):
    return eval_sets.csqa_sets(data_dir=shared_data)


def test_csqa_sets_pair_the_same_items(csqa):
    single, repeat, paraphrase = (csqa[name] for name in ("single", "repeat", "paraphrase"))
    assert len(single) == len(repeat) == len(paraphrase) == 916
    assert _ids(single) == _ids(repeat) == _ids(paraphrase) == [r["id"] for r in single]
    assert all(r["id"] == f"{r['source_id']}#repeat" for r in repeat)
    assert {r["output"] for r in paraphrase} == {None}  # no paraphraser: the intermediate gold is unknown


def test_csqa_hand_checked_prompts(csqa, shared_data):
    text = (
        "Question: A revolving door is convenient for two direction travel, but it also serves as a security measure "
        "at a what?\nChoices: A:bank, B:library, C:department store, D:mall, E:new york"
    )
    single, repeat, paraphrase = (csqa[name][0] for name in ("single", "repeat", "paraphrase"))
    assert single["instruction"] == "Select the correct choice to answer the question in the input."
    assert (
        repeat["instruction"]
        == "First repeat the input, then select the correct choice to answer the question in the input."
    )
    assert paraphrase["instruction"] == (
        "First paraphrase the input, then select the correct choice to answer the question in the input."
    )
    assert single["input"] == repeat["input"] == paraphrase["input"] == text
    assert repeat["output"] == text + "\nA" and repeat["answer_key"] == single["output"] == "A"

    authors = eval_sets.csqa_sets(wording="authors", data_dir=shared_data)
    theirs = author_loaders.load_seqit_eval_test(name="commonsense_qa_repeat", data_dir=shared_data)
    assert [r["instruction"] for r in authors["repeat"]] == [r["instruction"] for r in theirs]
    assert authors["repeat"][0]["instruction"] == (
        "Please repeat the input, then select the correct choice to answer the question in the input."
    )
    assert {r["prompt_file"] for r in authors["repeat"]} == {"seqit_eval/test/commonsense_qa_repeat.json"}
    assert authors["single"] == csqa["single"] and authors["paraphrase"] == csqa["paraphrase"]
    with pytest.raises(ValueError, match="split"):
        eval_sets.csqa_sets(wording="authors", split="train", data_dir=shared_data)


def test_csqa_gold_steps_score_perfectly(csqa):
    for name in ("single", "repeat"):
        records = csqa[name]
        assert score_csqa([r["output"] for r in records], records)[1]["strict_accuracy"] == 1.0
        assert score_csqa(_shifted([r["output"] for r in records]), records)[1]["strict_accuracy"] < 0.4
    report = metrics.following_report([r["output"] for r in csqa["repeat"]], csqa["repeat"])
    assert report["follow_all"] == report["accuracy"] == report["intermediate_exact"] == 1.0


def test_csqa_paraphrase_callable_seed_and_limit(shared_data):
    calls = []

    def paraphrase(texts):
        calls.append(len(texts))
        return ["" if k == 1 else "In other words: " + t for k, t in enumerate(texts)]

    sets = eval_sets.csqa_sets(paraphrase=paraphrase, data_dir=shared_data, limit=12, seed=5)
    assert calls == [12]  # one batched call
    records = sets["paraphrase"]
    assert records[0]["steps"][0]["output"] == "In other words: " + records[0]["input"]
    assert records[1]["steps"][0]["output"] is None and records[1]["output"] is None  # empty paraphrase: unknown
    known = [r for r in records if r["output"] is not None]
    assert len(known) == 11 and score_csqa([r["output"] for r in known], known)[1]["strict_accuracy"] == 1.0
    assert (
        _ids(records)
        == _ids(sets["single"])
        == _ids(eval_sets.csqa_sets(data_dir=shared_data, limit=12, seed=5)["repeat"])
    )
    dev = [r["id"] for r in loaders.load_commonsenseqa(data_dir=shared_data)]
    positions = [dev.index(i) for i in _ids(records)]
    assert positions == sorted(positions) and positions != list(range(12))
