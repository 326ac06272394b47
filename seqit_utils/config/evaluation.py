"""The `evaluation` section (which models, which benchmarks: XQuAD, MGSM, CommonsenseQA, the lm-evaluation-harness
tasks, AlpacaEval, and which metric family the tables show) and the `analysis` section (the figures of notebook 10).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from seqit_utils.config.base import _Strict


class EvalModel(_Strict):
    """One model to evaluate: a local directory, a LoRA adapter directory (loaded with its base through peft) or
    a hub id under `path`, or an `llm.endpoints` key under `endpoint` (generation benchmarks only). `group` is the
    table row its numbers are averaged into (e.g. `it`, `sit`); `prompt` picks the XQuAD prompt the row reports."""

    path: str | None = None
    endpoint: str | None = None
    group: str
    prompt: Literal["it", "sit"] = "sit"

    @model_validator(mode="after")
    def _one_source(self) -> EvalModel:
        if (self.path is None) == (self.endpoint is None):
            raise ValueError("give either `path` (a model directory, adapter or hub id) or `endpoint`, not both")
        return self


class XQuADEval(_Strict):
    """§4.1.1, Tables 2/9: IT prompt (answer directly) and SIT prompt (translate first) per language."""

    langs: list[Literal["en", "de", "es", "ru", "zh", "ar", "el", "hi", "th", "tr", "vi"]] = Field(min_length=1)
    wording: Literal["authors", "paper"] = "authors"  # see seqit_utils.evaluate.eval_sets.xquad_sets
    accept_english: bool = False  # also count the parallel English answers as gold
    max_new_tokens: int = Field(default=128, gt=0)


class MGSMEval(_Strict):
    """Tables 10/11: 8-shot English chain of thought vs translate-then-CoT per language."""

    langs: list[Literal["bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh"]] = Field(min_length=1)
    n_shot: int = Field(default=8, ge=0, le=8)
    max_new_tokens: int = Field(default=512, gt=0)


class CSQAEval(_Strict):
    """Tables 7/8: CommonsenseQA without an intermediate task, with "repeat" and with "paraphrase" first."""

    wording: Literal["authors", "paper"] = "paper"
    max_new_tokens: int = Field(default=128, gt=0)


class HarnessEval(_Strict):
    """Table 5's MMLU, ARC-Challenge, GSM8K, HumanEval through lm-evaluation-harness
    (`seqit_utils.evaluate.harness`)."""

    tasks: list[Literal["mmlu", "arc_challenge", "gsm8k", "humaneval"]] = Field(min_length=1)
    limit: int | None = Field(default=None, gt=0)  # documents per task (None: all)
    allow_code_execution: bool = False  # HumanEval runs model-written code: only when set true here
    max_gen_toks: int | None = Field(default=None, gt=0)  # None: each task's own (GSM8K 256, HumanEval 1024)
    batch_size: int = Field(default=8, gt=0)


class MetricsConfig(_Strict):
    """The two metric families of docs/metrics.md (`seqit_utils.evaluate.scoring`); both are always written, `metric`
    names the one tables and `seqit rescore` show first. Defaults are the authors' thresholds (Tables 9-11)."""

    metric: Literal["paper", "strict"] = "paper"
    xquad_follow_threshold: float = Field(default=0.4, ge=0, le=1)  # paper: ROUGE-1 F(English input, output) > this
    mgsm_follow_threshold: float = Field(default=0.5, ge=0, le=1)  # paper: ROUGE-L F(output, English question) > this
    strict_follow_threshold: float = Field(default=0.5, ge=0, le=1)  # strict: ROUGE-L(translation part) ≥ this


class AlpacaEvalConfig(_Strict):
    """Table 5's AlpacaEval 2.0: our outputs vs `reference`'s recorded outputs, judged by `llm.judge`. `method`:
    `judge` = our judge in both orders (any endpoint, offline); `package` = the alpaca_eval package's annotator."""

    reference: str = "gpt4_1106_preview"
    method: Literal["judge", "package"] = "judge"
    limit: int | None = Field(default=None, gt=0)
    max_new_tokens: int = Field(default=512, gt=0)


class AnalysisConfig(_Strict):
    """Notebook 10 (figures): verb-noun sunbursts (§5.4) of instruction sets, Figure 2 / Table 13 from SeqEval's
    judged metrics, the App. E case study."""

    # name -> where its `instruction` fields are: a file under outputs/<profile>/ ("seq_instruct/iteration_2.jsonl")
    # or "loader:<name>" (a `seqit_utils.data.loaders` dataset read from $SEQIT_DATA_DIR, e.g. "loader:seqeval")
    instruction_sets: dict[str, str] = Field(min_length=1)
    n_verbs: int = Field(default=15, gt=0)
    n_nouns: int = Field(default=4, gt=0)
    # spaCy dependencies, benepar constituencies (needs benepar + its benepar_en3 model), or benepar when installed
    # else spaCy; the parser used is in every figure's title and in figures/<profile>_figures.json
    parser: Literal["auto", "spacy", "benepar"] = "auto"
    # Figure 2 / Table 13 draw this profile's SeqEval models (notebook 04) and these: label -> another SeqEval metrics
    # file in notebook 04's layout (path relative to the project root, e.g. outputs/sample/metrics/seqeval.json;
    # DVC tracks the names, not the files: after one changes, `dvc repro -f analysis`)
    extra_seqeval_metrics: dict[str, str] = {}
    # App. E: SeqEval items shown side by side, IT vs SIT: the first N judged items, or a list of item ids
    case_study_items: int | list[str] = Field(default=5)


class EvaluationConfig(_Strict):
    """Notebooks 06 (Tables 2, 7-11) and 08 (Table 5): which models, which benchmarks (absent: skipped), how much."""

    models: dict[str, EvalModel] | None = None  # None: this profile's fine-tuned models, grouped by variant
    limit: int | None = Field(default=None, gt=0)  # items per benchmark and language (first N; None: all)
    batch_size: int = Field(default=16, gt=0)
    xquad: XQuADEval | None = None
    mgsm: MGSMEval | None = None
    csqa: CSQAEval | None = None
    harness: HarnessEval | None = None
    alpaca_eval: AlpacaEvalConfig | None = None
    metrics: MetricsConfig = MetricsConfig()
