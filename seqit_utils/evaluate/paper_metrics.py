"""The `paper` metric: the authors' own definitions, re-implemented from their published evaluation scripts.

Sources (read, not guessed): hanxuhu/SeqIns `eval_seq/eval_xquad.py` (XQuAD accuracy and following, Tables 2/9),
`eval_seq/eval_mgsm.py` (MGSM following, Tables 10/11), simonucl/Seq_IT `eval/gsm/run_eval.py` and
`eval/mgsm/run_eval.py` (GSM8K/MGSM accuracy, Tables 5/10/11). Lenient by design; `strict` (extract.py, scoring.py)
sits beside it. Where the authors published no definition (CommonsenseQA accuracy and following, Tables 1/7/8), this
module says so and `scoring.py` uses ours for both families. ROUGE comes from the `rouge` PyPI package, as theirs.
"""

from __future__ import annotations

import functools
import re
import string
from typing import Any

# eval_xquad.py: `words = ['result:', 'answer:', 'answer is', 'result is']`, tried in this order; the first one
# found anywhere in the lower-cased output wins (list order, not position in the text).
PAPER_MARKERS = ("result:", "answer:", "answer is", "result is")
XQUAD_FOLLOW_THRESHOLD = 0.4  # eval_xquad.py (Table 9 following): ROUGE-1 F > 0.4
MGSM_FOLLOW_THRESHOLD = 0.5  # eval_mgsm.py (Tables 10/11 following): ROUGE-L F > 0.5
MGSM_FOLLOW_PHRASE = "translate the question"  # eval_mgsm.py: or the output says it translates the question


@functools.lru_cache(maxsize=1)
def _rouge() -> Any:
    try:
        from rouge import Rouge
    except ImportError as err:  # a core dependency (pyproject.toml); only a broken install gets here
        raise ImportError("the paper metric needs the `rouge` package: pip install 'rouge>=1.0.1'") from err
    return Rouge()


def rouge_f(hypothesis: str, reference: str, kind: str = "rouge-1") -> float:
    """F-measure of the `rouge` package's `get_scores(hypothesis, reference)` ("rouge-1", "rouge-2" or "rouge-l").

    The package raises ValueError on an empty hypothesis or reference (after its own tokenisation); the authors
    count that as not followed, so this returns 0.0.
    """
    if kind not in ("rouge-1", "rouge-2", "rouge-l"):
        raise ValueError(f"kind = {kind!r} is not allowed; allowed values: rouge-1, rouge-2, rouge-l")
    try:
        return float(_rouge().get_scores(hypothesis, reference)[0][kind]["f"])
    except ValueError:
        return 0.0
    except RecursionError:  # the package's LCS recurses per token; only absurdly long texts get here
        return 0.0


# ---------------------------------------------------------------- XQuAD (Tables 2/9)
def xquad_prediction(output: str) -> str:
    """The authors' prediction: the lower-cased output after the first of `PAPER_MARKERS` (in list order), stripped;
    with no marker, the whole lower-cased output (not stripped, as in eval_xquad.py)."""
    lowered = output.lower()
    for marker in PAPER_MARKERS:
        position = lowered.find(marker)
        if position != -1:
            return lowered[position + len(marker) :].strip()
    return lowered


def xquad_hit(output: str, gold_en: str) -> bool:
    """eval_xquad.py's hit: the lower-cased English gold is in the prediction or the prediction is in it (so an
    empty prediction is a hit)."""
    prediction, gold = xquad_prediction(output), gold_en.lower()
    return gold in prediction or prediction in gold


def xquad_followed(output: str, english_input: str, threshold: float = XQUAD_FOLLOW_THRESHOLD) -> bool:
    """eval_xquad.py's following: ROUGE-1 F of the lower-cased English input vs the lower-cased whole output
    > `threshold` (the model translated the passage and question into English)."""
    return rouge_f(english_input.lower(), output.lower(), "rouge-1") > threshold


# ---------------------------------------------------------------- MGSM / GSM8K (Tables 5, 10/11)
def mgsm_followed(output: str, english_question: str, threshold: float = MGSM_FOLLOW_THRESHOLD) -> bool:
    """eval_mgsm.py's following: ROUGE-L F(output, English question), both lower-cased, > `threshold`, or the
    output contains "translate the question"."""
    lowered = output.lower()
    return rouge_f(lowered, english_question.lower(), "rouge-l") > threshold or MGSM_FOLLOW_PHRASE in lowered


_NUMBER = re.compile(r"[-+]?\d*\.\d+|\d+")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def gsm_prediction(output: str) -> str:
    """run_eval.py's prediction: commas between digits removed, then the last number (`[-+]?\\d*\\.\\d+|\\d+`),
    else the whole output."""
    text = re.sub(r"(\d),(\d)", r"\1\2", output)
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else text


def gsm_correct(output: str, answer_number: float) -> bool:
    """run_eval.py's accuracy: HF `exact_match` with ignore_case and ignore_punctuation of the prediction against
    `str(answer_number)` (an integer gold is written without ".0", as in their data)."""
    gold = str(int(answer_number)) if float(answer_number).is_integer() else str(answer_number)
    return gsm_prediction(output).lower().translate(_PUNCTUATION) == gold.lower().translate(_PUNCTUATION)
