"""Tests for seqit_utils.evaluate.metrics: hand-computed ROUGE-L / SQuAD cases, segmentation, following rate,
BERTScore."""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys

import pytest

from seqit_utils.data.tasks import generate_suite
from seqit_utils.evaluate import metrics
from seqit_utils.evaluate.metrics import (
    UnicodeTokenizer,
    bertscore,
    exact_match,
    follow_steps,
    following_report,
    last_answer,
    normalize_answer,
    rouge_l,
    segment,
    squad_f1,
)

# ---------------------------------------------------------------- ROUGE-L


def test_rouge_l_hand_computed():
    # LCS("a b c d", "a b e d") = "a b d" = 3 tokens of 4 on each side: P = R = F = 0.75.
    assert rouge_l("a b c d", "a b e d") == pytest.approx(0.75)
    # LCS 2, prediction 2 tokens, reference 4: P = 1, R = 0.5, F = 2/3.
    assert rouge_l("a d", "a b c d") == pytest.approx(2 / 3)
    assert rouge_l("the cat sat", "the cat sat") == 1.0
    assert rouge_l("apple dog", "cat horse") == 0.0
    assert rouge_l("APPLE DOG", "apple dog") == 1.0  # rouge-score lower-cases
    assert rouge_l("", "") == 1.0 and rouge_l("  \n", "") == 1.0
    assert rouge_l("apple", "") == 0.0 and rouge_l("", "apple") == 0.0
    assert isinstance(rouge_l("apple", ""), float)


def test_rouge_l_multilingual_keeps_accents_and_cjk():
    # rouge-score's default tokenizer drops "à" and every CJK character.
    assert rouge_l("à la maison", "a la maison") == pytest.approx(0.8)  # [la, maison] vs [a, la, maison]
    assert rouge_l("à la maison", "a la maison", multilingual=True) == pytest.approx(2 / 3)  # "à" ≠ "a"
    assert rouge_l("我爱巴黎", "我爱伦敦") == 0.0
    assert rouge_l("我爱巴黎", "我爱伦敦", multilingual=True) == pytest.approx(0.5)  # one token per character
    assert rouge_l("Été CHAUD", "été chaud", multilingual=True) == 1.0


def test_unicode_tokenizer():
    tokenize = UnicodeTokenizer().tokenize
    assert tokenize("हिन्दी भाषा") == ["हिन्दी", "भाषा"]  # vowel signs and virama stay inside the word
    assert tokenize("cafe\u0301 l'Été_2") == ["café", "l", "été", "2"]  # NFC, lower-case, punctuation splits
    assert tokenize("東京 tower!") == ["東", "京", "tower"]
    assert tokenize("  ") == []


# ---------------------------------------------------------------- SQuAD-style answers


def test_squad_normalisation_exact_match_and_f1():
    assert normalize_answer("The Eiffel Tower!") == "eiffel tower"
    assert normalize_answer("  An   apple, a day ") == "apple day"
    assert exact_match("The Eiffel Tower!", "eiffel tower") == 1.0
    assert exact_match("APPLE", "apple") == 1.0  # SQuAD EM ignores case (unlike follow_steps' final_exact)
    assert exact_match("Eiffel Tower, Paris", "the Eiffel Tower") == 0.0
    # [eiffel, tower, paris] vs [eiffel, tower]: P = 2/3, R = 1, F1 = 0.8.
    assert squad_f1("Eiffel Tower, Paris", "the Eiffel Tower") == pytest.approx(0.8)
    assert squad_f1("Paris", "London") == 0.0
    assert squad_f1("the", "a") == 1.0  # both empty after normalisation (SQuAD v2 rule)
    assert squad_f1("", "London") == 0.0


def test_last_answer():
    assert last_answer("apple dog\nAPPLE DOG\n\n  ") == "APPLE DOG"
    assert last_answer("  42  ") == "42"
    assert last_answer("\n \n") == ""


# ---------------------------------------------------------------- segmentation and following


def test_perfect_two_step_output():
    steps = ["apple dog", "APPLE DOG"]
    assert segment("apple dog\nAPPLE DOG", steps) == steps
    result = follow_steps("apple dog\nAPPLE DOG", steps)
    assert [row["rouge"] for row in result["steps"]] == [1.0, 1.0]
    assert [row["followed"] for row in result["steps"]] == [True, True]
    assert result["follow_all"] and result["intermediate_exact"] and result["final_exact"]


def test_skipped_first_step_is_not_followed_but_the_answer_is_present():
    # "APPLE DOG" matches both steps by ROUGE-L (case-blind); the exact match decides it is the final answer.
    result = follow_steps("APPLE DOG", ["apple dog", "APPLE DOG"])
    assert [row["part"] for row in result["steps"]] == ["", "APPLE DOG"]
    assert [row["followed"] for row in result["steps"]] == [False, True]
    assert not result["follow_all"] and result["intermediate_exact"] is False and result["final_exact"]
    # sort: the answer alone scores 1/3 as step 1 but 1 as step 2.
    result = follow_steps("apple cat dog", ["dog cat apple", "apple cat dog"])
    assert [row["part"] for row in result["steps"]] == ["", "apple cat dog"]
    assert not result["follow_all"] and result["final_exact"]


def test_first_step_without_answer_has_no_final_part():
    result = follow_steps("dog cat apple", ["dog cat apple", "apple cat dog"])
    assert [row["part"] for row in result["steps"]] == ["dog cat apple", ""]
    assert [row["followed"] for row in result["steps"]] == [True, False]
    assert not result["follow_all"] and result["intermediate_exact"] and not result["final_exact"]
    result = follow_steps("apple dog", ["apple dog", "APPLE DOG"])  # the exact match makes it step 1
    assert [row["followed"] for row in result["steps"]] == [True, False]


def test_tie_gives_the_line_to_the_later_step():
    # The input is already deduplicated: the lone line matches both steps equally; it is read as the answer.
    assert segment("apple dog", ["apple dog", "apple dog"]) == ["", "apple dog"]


def test_multi_line_gold_step():
    steps = ["red fish\nblue fish", "2"]
    assert segment("red fish\nblue fish\n2", steps) == steps
    result = follow_steps("red fish  \n\nblue fish\n2", steps)  # blank line and trailing spaces do not matter
    assert result["steps"][0]["part"] == "red fish\nblue fish"
    assert result["follow_all"] and result["intermediate_exact"] and result["final_exact"]


def test_three_step_chain():
    steps = ["15 0 3 8 11", "0 3 8 11", "22"]  # repeat, drop_first, add
    result = follow_steps("15 0 3 8 11\n0 3 8 11\n22", steps)
    assert result["follow_all"] and result["intermediate_exact"] and result["final_exact"]
    # Repeating the input instead of dropping its first item passes ROUGE-L (LCS 4: P 4/5, R 1, F 8/9) but is not
    # exact: why "intermediate exact" is reported beside following (DESIGN: the miniature experiment).
    result = follow_steps("15 0 3 8 11\n15 0 3 8 11\n22", steps)
    assert result["steps"][1]["rouge"] == pytest.approx(8 / 9)
    assert result["follow_all"] and result["intermediate_exact"] is False and result["final_exact"]
    # A wrong middle step: reverse expected, repeat given (LCS 1 of 3 tokens: F = 1/3).
    result = follow_steps("4 11 8\n4 11 8\n23", ["4 11 8", "8 11 4", "23"])
    assert [row["rouge"] for row in result["steps"]] == pytest.approx([1.0, 1 / 3, 1.0])
    assert [row["followed"] for row in result["steps"]] == [True, False, True]


def test_case_only_difference_passes_rouge_but_not_exact():
    result = follow_steps("apple dog\napple dog", ["apple dog", "APPLE DOG"])
    final = result["steps"][1]
    assert final["rouge"] == 1.0 and final["followed"] and not final["exact"]
    assert result["follow_all"] and not result["final_exact"]
    result = follow_steps("apple dog\n2", ["APPLE DOG", "2"])
    assert result["steps"][0]["followed"] and result["intermediate_exact"] is False


def test_extra_chatter_lines():
    # Chatter joins a neighbouring part: "Sure!" + "apple dog" = 3 tokens, LCS 2 → P 2/3, R 1, F 0.8 (followed).
    result = follow_steps("Sure!\napple dog\nAPPLE DOG", ["apple dog", "APPLE DOG"])
    assert [row["part"] for row in result["steps"]] == ["Sure!\napple dog", "APPLE DOG"]
    assert result["steps"][0]["rouge"] == pytest.approx(0.8)
    assert result["follow_all"] and result["intermediate_exact"] is False and result["final_exact"]
    # Trailing chatter stays in the final part: the answer is present but no longer exact.
    result = follow_steps("apple dog\nAPPLE DOG\nHope this helps!", ["apple dog", "APPLE DOG"])
    assert result["steps"][1]["part"] == "APPLE DOG\nHope this helps!"
    assert result["follow_all"] and not result["final_exact"]


def test_threshold_is_inclusive():
    steps = ["apple dog", "7"]
    output = "apple cat\n7"  # step 1: LCS 1 of 2 tokens each side, F = 0.5
    assert follow_steps(output, steps)["steps"][0]["rouge"] == pytest.approx(0.5)
    assert follow_steps(output, steps, threshold=0.5)["follow_all"]
    assert not follow_steps(output, steps, threshold=0.6)["follow_all"]
    with pytest.raises(ValueError, match="threshold"):
        follow_steps(output, steps, threshold=50)


def test_empty_output():
    assert segment("", ["a b", "c"]) == ["", ""]
    result = follow_steps("  \n", ["a b", "c"])
    assert [row["rouge"] for row in result["steps"]] == [0.0, 0.0]
    assert not result["follow_all"] and not result["final_exact"] and result["intermediate_exact"] is False
    assert not follow_steps("", ["c"])["follow_all"]
    with pytest.raises(ValueError, match="steps"):
        segment("a", [])


def test_segment_is_optimal_against_brute_force():
    # Random small cases: the DP's ROUGE-L sum equals the best over every split, and agrees with rouge-score.
    rng = random.Random(0)
    vocab = ["a", "b", "c", "d"]
    for _ in range(150):
        lines = [" ".join(rng.choices(vocab, k=rng.randint(0, 3))) for _ in range(rng.randint(0, 5))]
        steps = [" ".join(rng.choices(vocab, k=rng.randint(1, 3))) for _ in range(rng.randint(1, 3))]
        kept = [line for line in lines if line.strip()]
        splits = [
            ["\n".join(kept[a:b]) for a, b in itertools.pairwise((0, *inner, len(kept)))]
            for inner in itertools.combinations_with_replacement(range(len(kept) + 1), len(steps) - 1)
        ]
        best = max(sum(rouge_l(part, step) for part, step in zip(split, steps, strict=True)) for split in splits)
        parts = segment("\n".join(lines), steps)
        assert parts in splits
        assert sum(rouge_l(part, step) for part, step in zip(parts, steps, strict=True)) == pytest.approx(best)


def test_long_output_is_coarsened_and_fast():
    output = "\n".join(f"line {i} apple dog" for i in range(500)) + "\nAPPLE DOG"
    parts = segment(output, ["apple dog", "apple dog", "APPLE DOG"], max_lines=20)
    assert len(parts) == 3 and parts[-1].endswith("APPLE DOG")
    assert "\n".join(part for part in parts if part).splitlines() == output.splitlines()


# ---------------------------------------------------------------- following_report


def test_following_report_hand_made():
    upper = {"steps": [{"task": "repeat", "output": "apple dog"}, {"task": "upper", "output": "APPLE DOG"}]}
    records = [upper, upper, {"steps": [{"task": "count", "output": "3"}]}, {"steps": [{"output": "cat"}]}]
    outputs = ["apple dog\nAPPLE DOG", "APPLE DOG", "4", ""]
    report = following_report(outputs, records)
    assert report["n"] == 4
    assert report["follow_all"] == 0.5  # records 1 and 3 (a single step only needs an answer)
    assert report["per_step"] == [0.5, 1.0]  # position 1: records 1-4; position 2: records 1-2
    assert report["intermediate_exact"] == 0.5 and report["n_multi_step"] == 2
    assert report["accuracy"] == 0.5  # records 1 and 2
    assert report["mean_rouge_per_step"] == pytest.approx([0.25, 1.0])


def test_following_report_errors():
    with pytest.raises(ValueError, match=r"outputs has 2 .* records has 3"):
        following_report(["a", "b"], [{"steps": [{"output": "a"}]}] * 3)
    with pytest.raises(ValueError, match=r"records\[1\]"):
        following_report(["a", "b"], [{"steps": [{"output": "a"}]}, {"steps": []}])
    assert following_report([], [])["follow_all"] is None


@pytest.fixture(scope="module")
def suite():
    return generate_suite(seed=0, n_train_per_task=1, n_train_sit=1, n_eval_per_split=5)


@pytest.mark.parametrize("split", ["eval_single", "eval_seq2_seen", "eval_seq2_unseen", "eval_seq3", "eval_seq4"])
def test_following_report_on_task_suite(suite, split):
    records = suite[split]
    gold = following_report([record["output"] for record in records], records)
    assert gold["n"] == len(records) == 5
    assert gold["follow_all"] == gold["accuracy"] == 1.0
    assert gold["per_step"] == [1.0] * len(records[0]["steps"])
    # The shortcut baseline: only the final step's output (the last line of the gold output).
    shortcut = following_report([last_answer(record["output"]) for record in records], records)
    assert shortcut["accuracy"] == 1.0
    if split == "eval_single":
        assert gold["intermediate_exact"] is None and shortcut["follow_all"] == 1.0
    else:
        assert gold["intermediate_exact"] == 1.0
        assert shortcut["follow_all"] == 0.0 and shortcut["intermediate_exact"] == 0.0
        assert shortcut["per_step"][-1] == 1.0


# ---------------------------------------------------------------- BERTScore and lazy imports

PAIRS = [
    ("The cat sat on the mat.", "The cat sat on the mat."),
    ("The cat sat on the mat.", "A cat was sitting on the mat."),
    ("The cat sat on the mat.", "Stock prices fell sharply today."),
    ("", ""),
    ("orphan", " "),
]


@pytest.fixture(scope="module")
def local_bertscore():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        return bertscore([p for p, _ in PAIRS], [r for _, r in PAIRS], batch_size=2)


def test_bertscore_local_minilm(local_bertscore):
    f1 = local_bertscore["f1"]
    assert local_bertscore["encoder"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert local_bertscore["num_layers"] == metrics.LOCAL_MINILM_LAYERS == 5
    assert len(f1) == len(PAIRS) and f1[0] > 0.99
    assert f1[1] > f1[2] + 0.2  # paraphrase above unrelated
    assert f1[3:] == [1.0, 0.0]  # blank pairs are not encoded
    assert local_bertscore["mean"] == pytest.approx(sum(f1) / len(f1))
    again = bertscore([PAIRS[1][0]], [PAIRS[1][1]])
    assert again["f1"][0] == pytest.approx(f1[1], abs=1e-5)  # deterministic up to padding


def test_bertscore_errors(monkeypatch):
    with pytest.raises(ValueError, match="predictions has 1 items but references has 0"):
        bertscore(["a"], [])
    metrics._bert_scorer.cache_clear()
    monkeypatch.setitem(sys.modules, "bert_score", None)  # as if the eval extra were missing
    with pytest.raises(ImportError, match=r"pip install -e '\.\[eval\]'"):
        bertscore(["a"], ["a"])
    metrics._bert_scorer.cache_clear()


@pytest.mark.network
@pytest.mark.skipif(os.environ.get("HF_HUB_OFFLINE") == "1", reason="needs roberta-large from the Hugging Face hub")
def test_bertscore_paper_encoder():
    result = bertscore(["The cat sat on the mat."], ["The cat sat on the mat."], encoder="roberta-large")
    assert result["encoder"] == "roberta-large" and result["num_layers"] == 17 and result["f1"][0] > 0.99


def test_import_is_light():
    code = (
        "import sys, seqit_utils.evaluate.metrics; "
        "print(sorted({'torch', 'bert_score', 'rouge_score'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
