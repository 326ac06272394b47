"""Typed, validated configuration for the three profiles (`params/<profile>.yaml`).

Keys use the upstream names wherever they exist (transformers `TrainingArguments` / trl `SFTConfig`, peft
`LoraConfig`, transformers `LlamaConfig`), in the spirit of alignment-handbook recipes. Validation is strict: an
unknown key, a wrong type or a value outside the allowed set raises `ValueError` naming the file, the dotted key and
what is allowed, before any work starts.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from seqit_utils.io import write_text

PROFILES = ("smoke", "sample", "paper")
# Tasks of the built-in suite are checked by `seqit_utils.data.tasks` itself when the suite is generated.


class _Strict(BaseModel):
    # Unknown keys are errors (a typo must not silently fall back to a default); no type coercion ("3" is not 3).
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TaskSuiteConfig(_Strict):
    """Arguments of `seqit_utils.data.tasks.generate_suite` (DESIGN: the miniature experiment)."""

    n_train_per_task: int = Field(gt=0)
    n_train_sit: int | None = Field(default=None, gt=0)
    n_eval_per_split: int = Field(gt=0)
    sit_intermediate_tasks: list[str]
    heldout_intermediate_tasks: list[str]
    tasks: list[str] | None = None


class DatasetSpec(_Strict):
    """One real dataset to export. Resolution: `path` → `$SEQIT_DATA_DIR/<dataset>/<file>` → Hugging Face hub."""

    loader: str
    path: str | None = None
    limit: int | None = Field(default=None, gt=0)
    options: dict[str, str | int] = {}
    allow_sample: bool = False  # accept far fewer records than the published set (seqit_utils.data.sizes.check_size)

    @model_validator(mode="after")
    def _known_loader(self) -> DatasetSpec:
        from seqit_utils.data.loaders import LOADERS

        if self.loader not in LOADERS:
            raise ValueError(f"unknown loader {self.loader!r}; allowed values: {', '.join(sorted(LOADERS))}")
        return self


class DataConfig(_Strict):
    """What the data stage (`notebooks/00_data.ipynb`) builds."""

    data_dir: str | None = None  # overrides $SEQIT_DATA_DIR when set
    task_suite: TaskSuiteConfig | None = None
    datasets: dict[str, DatasetSpec] = {}


class TinyModelConfig(_Strict):
    """A Llama-architecture model built from config (transformers `LlamaConfig` names); smoke/sample only."""

    hidden_size: int = Field(gt=0)
    num_hidden_layers: int = Field(gt=0)
    num_attention_heads: int = Field(gt=0)
    intermediate_size: int = Field(gt=0)
    max_position_embeddings: int = Field(gt=0)
    vocab_size: int = Field(gt=0)  # size of the tokenizer trained locally on the profile's data


class BaseModelSpec(_Strict):
    name_or_path: str  # hub id, local directory, or "tiny" (build `model.tiny` from config)
    prompt_template: Literal["alpaca", "alpaca_short", "tulu", "chat"]


class ModelConfig(_Strict):
    base: str  # key of `base_models`
    base_models: dict[str, BaseModelSpec]
    tiny: TinyModelConfig | None = None

    @model_validator(mode="after")
    def _base_exists(self) -> ModelConfig:
        _check_choice("base", self.base, self.base_models)
        if self.base_models[self.base].name_or_path == "tiny" and self.tiny is None:
            raise ValueError("base model 'tiny' needs a `model.tiny` section (hidden_size, num_hidden_layers, ...)")
        return self


class LoraParams(_Strict):
    """peft `LoraConfig` names."""

    r: int = Field(gt=0)
    lora_alpha: int = Field(gt=0)
    lora_dropout: float = Field(ge=0, lt=1)
    target_modules: list[str]


class TrainSetup(_Strict):
    """One training recipe; the fields after `lora` are transformers `TrainingArguments` / trl `SFTConfig` names."""

    method: Literal["lora", "qlora", "full"]
    backend: Literal["auto", "unsloth", "peft", "full"] = "auto"
    lora: LoraParams | None = None
    learning_rate: float = Field(gt=0)
    num_train_epochs: float = Field(gt=0)
    max_steps: int = -1  # > 0 overrides num_train_epochs (transformers semantics)
    per_device_train_batch_size: int = Field(gt=0)
    gradient_accumulation_steps: int = Field(default=1, gt=0)
    warmup_steps: float = Field(default=0.0, ge=0)  # < 1: a fraction of the training steps (transformers 5)
    lr_scheduler_type: Literal["linear", "cosine", "constant", "constant_with_warmup", "warmup_stable_decay"]
    lr_scheduler_kwargs: dict[str, float] = {}
    weight_decay: float = Field(default=0.0, ge=0)
    optim: Literal["adamw_torch", "adamw_torch_fused", "adamw_8bit", "paged_adamw_8bit"] = "adamw_torch"
    max_length: int = Field(gt=0)
    bf16: bool = False
    fp16: bool = False  # GPUs without bf16 (T4): fp16 compute (autocast), weights and optimizer state stay fp32
    # Several GPUs through `accelerate launch` (seqit_utils.train): DDP for LoRA, FSDP / DeepSpeed ZeRO-3 for full.
    distributed: Literal["none", "ddp", "fsdp", "deepspeed_zero3"] = "none"
    load_best_model_at_end: bool = False  # v1: keep the checkpoint with the best dev cross-entropy
    dev_fraction: float = Field(default=0.02, gt=0, lt=1)  # v1's dev set: a seeded share of the training records
    completion_only_loss: bool = True  # loss on the response only (§2.1: −log p(ŷ | s))
    packing: bool = False  # trl bfd packing (padding-free; on CPU/sdpa the per-example mask comes from position_ids)
    save_steps: int = Field(default=500, gt=0)  # checkpoints, to resume a killed run
    eval_steps: int | None = Field(default=None, gt=0)  # None → save_steps (only used with a held-out set)
    logging_steps: int = Field(default=50, gt=0)

    @model_validator(mode="after")
    def _lora_needs_params(self) -> TrainSetup:
        if self.method in ("lora", "qlora") and self.lora is None:
            raise ValueError(f"method {self.method!r} needs a `lora` section (r, lora_alpha, lora_dropout, ...)")
        return self


class TrainConfig(_Strict):
    setup: str  # key of `setups`
    setups: dict[str, TrainSetup]

    @model_validator(mode="after")
    def _setup_exists(self) -> TrainConfig:
        _check_choice("setup", self.setup, self.setups)
        return self


class GenerationParams(_Strict):
    """Greedy decoding for evaluation (batched, left padding; see `seqit_utils.evaluate.generate`)."""

    batch_size: int = Field(gt=0)
    max_new_tokens: int = Field(gt=0)  # a hard cap: IT models often never emit EOS on unfamiliar prompts
    backend: Literal["hf", "vllm"] = "hf"  # vllm: offline batched generation on a GPU (the `gpu` extra)


class ExperimentConfig(_Strict):
    """The IT-vs-SIT experiment (§4; DESIGN: the miniature experiment): what to train, compare and how."""

    seeds: list[int] = Field(min_length=1)  # one model per seed and variant; dvc.yaml's matrix lists the same
    sit_transform: Literal["repeat"] = "repeat"  # §2.2 manual SIT applied to the real training data (sample/paper)
    follow_threshold: float = Field(ge=0, le=1)  # a step is followed when ROUGE-L(part, gold) ≥ this
    generation: GenerationParams


class EndpointSpec(_Strict):
    """An OpenAI-compatible chat endpoint for `seqit_utils.llm.client.LLMClient`: either `base_url` + `model`
    (OpenAI, vLLM,
    any server; the key comes from the environment variable `api_key_env`), or `serve`: a model this profile trained
    (`outputs/<profile>/models/<serve>`), run by `transformers serve` on loopback while the stage runs."""

    base_url: str | None = None
    model: str | None = None
    serve: str | None = None  # "<variant>-<seed>", e.g. "sit-0"
    api_key_env: str = "OPENAI_API_KEY"  # the variable's name; the key itself never goes into params
    sampling: dict[str, float | int | list[str] | None] = {}  # `seqit_utils.llm.client.Sampling` fields
    concurrency: int = Field(default=16, gt=0)
    timeout: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=5, ge=0)

    @model_validator(mode="after")
    def _one_kind(self) -> EndpointSpec:
        from seqit_utils.llm.client import Sampling

        if (self.serve is None) == (self.base_url is None):
            raise ValueError("give either `serve` (a model of this profile) or `base_url` + `model`, not both")
        if self.base_url is not None and not self.model:
            raise ValueError("an endpoint with `base_url` needs `model` (the model name the server expects)")
        if self.serve is not None and self.model is not None:
            raise ValueError("`model` is set by `serve` (the served directory); remove `model`")
        Sampling(**self.sampling)  # unknown or invalid sampling keys fail here, before any request
        return self


class LLMConfig(_Strict):
    """Endpoints for the LLM calls of notebooks 03 and 04: Seq-Instruct generation (§2.2, SeqEval construction §3)
    and the judge (App. B.5). Responses are cached in `outputs/<profile>/llm_cache/` (a re-run sends nothing)."""

    endpoints: dict[str, EndpointSpec]
    generator: str  # key of `endpoints`
    judge: str  # key of `endpoints`

    @model_validator(mode="after")
    def _endpoints_exist(self) -> LLMConfig:
        _check_choice("generator", self.generator, self.endpoints)
        _check_choice("judge", self.judge, self.endpoints)
        return self


class SeqInstructConfig(_Strict):
    """Notebook 03: Seq-Instruct over `source` records (§2.2; the paper: Alpaca, 2 iterations)."""

    source: str  # a file of the data stage: "real/<dataset>" or "task_suite/<split>" (under outputs/<profile>/data)
    limit: int | None = Field(default=None, gt=0)  # first N records (None: all)
    iterations: int = Field(default=2, gt=0)
    allowed_options: list[Literal["A", "B", "C", "D"]] = ["A", "B", "C", "D"]
    recorded_subset: Literal["alpaca", "flancot"] | None = "alpaca"  # authors' recorded outputs to validate parsers


class SeqEvalConfig(_Strict):
    """Notebook 04: SeqEval construction (§3) from `source` and judging of this profile's models on `benchmark`."""

    source: str  # single instructions to construct from (AlpacaEval's 805 in the paper); a data-stage file
    limit: int | None = Field(default=None, gt=0)
    iterations: int = Field(default=4, gt=0)
    ratios: list[float] = [0.1, 0.2, 0.3, 0.4]  # share of items taken from iteration 1..K
    benchmark: str | None = None  # the published SeqEval as a data-stage file ("real/seqeval"); None: our construction
    judge_limit: int | None = Field(default=None, gt=0)  # judge the first N benchmark items
    pairwise: list[str] = ["sit", "it"]  # win rate of the first model against the second, both orders (§3)

    @model_validator(mode="after")
    def _ratios_match(self) -> SeqEvalConfig:
        if len(self.ratios) != self.iterations:
            raise ValueError(f"ratios has {len(self.ratios)} shares for {self.iterations} iterations; give one each")
        if len(self.pairwise) != 2:
            raise ValueError("pairwise: give two model variants, e.g. [sit, it]")
        return self


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


ABLATION_SETS = (
    "data_level",
    "instance_level_it",
    "instance_level_sit",
    "sit_split",
    "sit_multi",
    "seq_instruct_split",
)


# §2.2 / §4.1 manual transforms, Seq-Instruct (§2.2 automatic) and the §5.1 ablation builders of notebook 09.
TRANSFORMS = ("none", "repeat", "paraphrase", "translate", "seq_instruct", *ABLATION_SETS)


class RunSpec(_Strict):
    """One entry of the run registry (`runs:`): a recipe — source data, transform, base model, setup, seeds — and
    the tables its models feed. Stage `train` trains it once per seed (`train@<run>-<seed>`, notebook 05) into
    `outputs/<profile>/models/<run>-<seed>/`; `seqit runs` lists the registry."""

    # source datasets: `task_suite`, or names of the profile's data sets / the paper's (alpaca, flancot, tulu_v2, ...)
    train_data: list[str] = Field(min_length=1)
    transform: Literal[TRANSFORMS] = "none"
    # seq_instruct only: an `llm.endpoints` key that runs Seq-Instruct over `seq_instruct.source` inside the training
    # stage (the §5.2 generator swap); None: train on stage 03's output (the profile's `llm.generator`)
    generator: str | None = None
    train: str | None = None  # a .jsonl under outputs/<profile>/ to train on instead of the transform's own set
    base: str | None = None  # a key of `model.base_models` (None: `model.base`)
    tiny: dict[str, int] = {}  # a tiny base: fields of `model.tiny` to change (a CPU stand-in for another base model)
    setup: str | None = None  # a key of `train.setups` (None: `train.setup`)
    train_overrides: dict[str, Any] = {}  # fields of the setup this run changes, e.g. {max_steps: 400}
    seeds: list[int] | None = None  # None: `experiment.seeds`
    tables: list[str] = Field(min_length=1)  # table_N of the paper (NAACL numbering), model_swaps, miniature

    @model_validator(mode="after")
    def _consistent(self) -> RunSpec:
        if self.generator is not None and self.transform != "seq_instruct":
            raise ValueError(f"`generator` runs Seq-Instruct: set transform: seq_instruct (got {self.transform!r})")
        if self.train is not None:
            path = Path(self.train)
            if path.suffix != ".jsonl" or path.is_absolute() or ".." in path.parts:
                raise ValueError(f"train = {self.train!r}: expected a .jsonl path under outputs/<profile>/")
        for table in self.tables:
            if not (table in ("model_swaps", "miniature") or (table.startswith("table_") and table[6:].isdigit())):
                allowed = "table_<N> (the paper's numbering), model_swaps, miniature"
                raise ValueError(f"tables: {table!r}; allowed: {allowed}")
        return self


class SeqInstructSplit(_Strict):
    """§5.1 SIT-split of Seq-Instruct data (notebook 09, set `seq_instruct_split`): its records carry no steps (one
    response for the whole sequential instruction), so an LLM splits each into single-task steps first."""

    source: str = "seq_instruct/iteration_2.jsonl"  # Seq-Instruct output (notebook 03) under outputs/<profile>/
    endpoint: str  # an `llm.endpoints` key: the LLM that splits instruction and response into steps


class AblationConfig(_Strict):
    """Notebook 09: the ablation training sets of §5.1 built from this profile's IT and SIT sets (the runs that
    train on them are entries of `runs:`; notebook 12 evaluates them for Table 6/12 and the §5.2 swaps)."""

    tokenizer: str = "minilm"  # "minilm" (shipped, offline), "base" (this profile's base model) or a hub id / path
    seed: int = 0
    seq_instruct_split: SeqInstructSplit | None = None  # None: no SIT-split of Seq-Instruct data


class TinyInstructBlip(_Strict):
    """A tiny InstructBLIP built from config (`multimodal.build_tiny`): transformers config names per part."""

    image_size: int = Field(gt=0)
    patch_size: int = Field(gt=0)
    num_query_tokens: int = Field(gt=0)
    vision: dict[str, int]  # InstructBlipVisionConfig: hidden_size, intermediate_size, num_hidden_layers, ...
    qformer: dict[str, int]  # InstructBlipQFormerConfig (vocab_size: the Q-Former tokenizer's)
    text: dict[str, int]  # LlamaConfig of the language model (vocab_size: its tokenizer's target size)
    # text-only fine-tuning of the tiny LM on the IT + SIT training texts before it is frozen, standing in for
    # Vicuna (an LM that already follows instructions); 0: the LM stays random
    lm_warmup_steps: int = Field(default=0, ge=0)
    lm_warmup_learning_rate: float = Field(default=2.0e-3, gt=0)


class MultimodalData(_Strict):
    """VQAv2 (+ COCO captions) for training and in-domain evaluation, GQA test-dev for out-of-domain evaluation."""

    # synthetic: generated images, captions and questions written in the published formats (CPU smoke check);
    # files: $SEQIT_DATA_DIR/{vqav2,coco,gqa}/ in the published formats (or `data_dir`), images read lazily
    source: Literal["synthetic", "files"]
    synthetic: dict[str, int] = {}  # vqa_synthetic.make_synthetic arguments: n_images, questions_per_image, seed
    data_dir: str | None = None  # files: a folder with vqav2/, coco/, gqa/ (None: $SEQIT_DATA_DIR)
    train_limit: int | None = Field(default=None, gt=0)  # VQAv2 train questions (first N by question id)
    eval_limit: int | None = Field(default=None, gt=0)  # per evaluation set

    @model_validator(mode="after")
    def _synthetic_settings(self) -> MultimodalData:
        if self.source == "synthetic" and not self.synthetic:
            raise ValueError("source 'synthetic' needs `synthetic` settings (n_images, questions_per_image, seed)")
        return self


class MultimodalTrain(_Strict):
    """Q-Former training (§4.1.2: 3 epochs, lr 1e-5; vision encoder and language model frozen)."""

    learning_rate: float = Field(gt=0)
    num_train_epochs: float = Field(gt=0)
    max_steps: int = -1
    per_device_train_batch_size: int = Field(gt=0)
    gradient_accumulation_steps: int = Field(default=1, gt=0)
    max_length: int = Field(default=256, gt=0)
    train_projection: bool = True  # LAVIS trains the Q-Former -> LM projection with the Q-Former
    bf16: bool = False
    save_steps: int = Field(default=500, gt=0)
    logging_steps: int = Field(default=10, gt=0)


class MultimodalConfig(_Strict):
    """Notebook 07 (§4.1.2, Table 3): InstructBLIP, IT vs caption-then-answer SIT, and SIT with a wrong caption."""

    model: str  # "tiny" (built from `tiny`) or a hub id / local dir, e.g. Salesforce/instructblip-vicuna-7b
    tiny: TinyInstructBlip | None = None
    prompt_template: Literal["alpaca", "alpaca_short", "tulu"] = "alpaca_short"
    data: MultimodalData
    train: MultimodalTrain
    max_new_tokens: int = Field(default=32, gt=0)
    seed: int = 0  # training seed and the negative captions' draw
    # VQAv2 answer normalisation: "official" (GT-Vision-Lab master) or "lavis" (the copy in LAVIS, the codebase of
    # InstructBLIP and of the authors' multimodal runs: the prediction is always normalised); see vqa_eval
    vqa_accuracy: Literal["official", "lavis"] = "official"

    @model_validator(mode="after")
    def _tiny_needs_shape(self) -> MultimodalConfig:
        if self.model == "tiny" and self.tiny is None:
            raise ValueError("model 'tiny' needs a `tiny` section (image_size, patch_size, num_query_tokens, ...)")
        return self


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


class Config(_Strict):
    """A whole profile. `profile` is not a YAML key: it is the file name, and decides `output_dir`."""

    profile: str
    seed: int
    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    experiment: ExperimentConfig
    llm: LLMConfig | None = None
    seq_instruct: SeqInstructConfig | None = None
    seqeval: SeqEvalConfig | None = None
    evaluation: EvaluationConfig | None = None
    analysis: AnalysisConfig | None = None
    ablations: AblationConfig | None = None
    runs: dict[str, RunSpec] = {}  # the run registry: name -> recipe (`seqit runs` lists it)
    multimodal: MultimodalConfig | None = None

    @model_validator(mode="after")
    def _llm_for_llm_stages(self) -> Config:
        if (self.seq_instruct or self.seqeval) and self.llm is None:
            raise ValueError("seq_instruct and seqeval need an `llm` section (endpoints, generator, judge)")
        endpoints = self.llm.endpoints if self.llm else {}
        for name, model in ((self.evaluation.models if self.evaluation else None) or {}).items():
            if model.endpoint is not None and model.endpoint not in endpoints:
                allowed = ", ".join(endpoints) or "none (add an `llm` section)"
                raise ValueError(f"evaluation.models.{name}.endpoint = {model.endpoint!r}; allowed values: {allowed}")
        if self.evaluation and self.evaluation.alpaca_eval and self.llm is None:
            raise ValueError("evaluation.alpaca_eval needs an `llm` section: its judge is llm.judge")
        bases = [f"base/seed-{s}" for s in self.experiment.seeds]  # stage 02's tiny bases
        servable = [*self.trained_models(), *bases]
        for name, spec in endpoints.items():
            if spec.serve is not None and spec.serve not in servable:
                raise ValueError(f"llm.endpoints.{name}.serve = {spec.serve!r}; allowed values: {', '.join(servable)}")
        self._check_runs(endpoints)
        # Seq-Instruct (stage 03), the SIT-split (stage 09) and generator runs make training data: an endpoint that
        # serves a trained model there would make that model an input of its own training (a cycle in the DAG).
        feeds = {"llm.generator": self.llm.generator if self.llm else None}
        if self.ablations and self.ablations.seq_instruct_split:
            feeds["ablations.seq_instruct_split.endpoint"] = self.ablations.seq_instruct_split.endpoint
        feeds |= {f"runs.{name}.generator": run.generator for name, run in self.runs.items()}
        for key, endpoint in feeds.items():
            served = endpoints[endpoint].serve if endpoint in endpoints else None
            if served is not None and served not in bases:
                raise ValueError(
                    f"{key} = {endpoint!r} serves {served!r}, a trained model, but its output is training data (a "
                    f"cycle); serve one of {', '.join(bases)} or use an external endpoint"
                )
        return self

    def trained_models(self) -> list[str]:
        """`<run>-<seed>` of every model the run registry trains (stage `train`, `models/<run>-<seed>/`)."""
        return [f"{name}-{seed}" for name, run in self.runs.items() for seed in (run.seeds or self.experiment.seeds)]

    def _check_runs(self, endpoints: dict[str, EndpointSpec]) -> None:
        ablations = self.ablations
        if ablations is not None and ablations.seq_instruct_split is not None:
            _check_choice("ablations.seq_instruct_split.endpoint", ablations.seq_instruct_split.endpoint, endpoints)
            if self.seq_instruct is None:
                raise ValueError(
                    "ablations.seq_instruct_split splits Seq-Instruct output: add a `seq_instruct` section"
                )
        for name, run in self.runs.items():
            key = f"runs.{name}"
            if not name.replace("_", "").isalnum():
                raise ValueError(f"{key}: a run name may hold letters, digits and '_' only (it names files)")
            if run.base is not None:
                _check_choice(f"{key}.base", run.base, self.model.base_models)
            if run.setup is not None:
                _check_choice(f"{key}.setup", run.setup, self.train.setups)
            setup = self.train.setups[run.setup or self.train.setup]
            _check_fields(f"{key}.train_overrides", TrainSetup, setup.model_dump() | run.train_overrides)
            if run.seeds is not None and not set(run.seeds) <= set(self.experiment.seeds):
                allowed = ", ".join(map(str, self.experiment.seeds))
                raise ValueError(f"{key}.seeds = {run.seeds}: each must be one of experiment.seeds ({allowed})")
            base = run.base or self.model.base
            if run.tiny and (self.model.base_models[base].name_or_path != "tiny" or self.model.tiny is None):
                raise ValueError(f"{key}.tiny changes a tiny base; its base {base!r} is not tiny (remove `tiny`)")
            if run.tiny:
                _check_fields(f"{key}.tiny", TinyModelConfig, self.model.tiny.model_dump() | run.tiny)
            if run.transform == "seq_instruct_split" and (ablations is None or ablations.seq_instruct_split is None):
                raise ValueError(f"{key}.transform = 'seq_instruct_split' needs ablations.seq_instruct_split")
            if run.transform == "seq_instruct" and self.seq_instruct is None:
                raise ValueError(f"{key} trains on Seq-Instruct output: add a `seq_instruct` section (its source)")
            if run.generator is not None:
                _check_choice(f"{key}.generator", run.generator, endpoints)

    @property
    def output_dir(self) -> Path:
        """`outputs/<profile>/`, so profiles never clobber each other."""
        return Path("outputs") / self.profile

    def params(self) -> dict[str, Any]:
        """The validated parameters as plain data (for provenance)."""
        return self.model_dump(mode="json")


def _check_choice(key: str, value: str, choices: dict[str, Any]) -> None:
    if value not in choices:
        raise ValueError(f"{key} = {value!r} is not defined; allowed values: {', '.join(sorted(choices)) or '(none)'}")


def _check_fields(key: str, model: type[BaseModel], values: dict[str, Any]) -> None:
    """Validate `values` (a section with changes merged in) as `model`; errors name `key` and the allowed fields."""
    try:
        model.model_validate(values)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ValueError(f"{key}: {problems}; allowed keys: {', '.join(model.model_fields)}") from None


def find_project_root(start: str | Path | None = None) -> Path:
    """The nearest directory at or above `start` (default: cwd) holding `params/` and `dvc.yaml`."""
    here = Path(start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "params").is_dir() and (candidate / "dvc.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"no seqit project (a folder with params/ and dvc.yaml) at or above {here}; "
        "run from inside the seqit checkout or pass its path"
    )


def params_path(profile: str, root: str | Path | None = None) -> Path:
    """`params/<profile>.yaml` of the project."""
    root = find_project_root(root)
    path = root / "params" / f"{profile}.yaml"
    if not path.is_file():
        found = sorted(p.stem for p in (root / "params").glob("*.yaml"))
        raise ValueError(f"profile = {profile!r} has no file {path}; allowed values: {', '.join(found)}")
    return path


def load_config(profile: str = "smoke", root: str | Path | None = None, path: str | Path | None = None) -> Config:
    """Read and validate `params/<profile>.yaml` (or an explicit `path`) into a `Config`."""
    path = Path(path) if path else params_path(profile, root)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    if "profile" in raw:
        raise ValueError(f"{path}: 'profile' is not a key; the profile is the file name ({path.stem})")
    return validate(raw | {"profile": profile}, source=str(path))


def validate(raw: dict[str, Any], source: str = "<params>") -> Config:
    """Validate a parsed params mapping; errors name `source`, the dotted key and what is allowed."""
    try:
        return Config.model_validate(raw)
    except ValidationError as err:
        raise ValueError(_explain(err, source)) from None


def data_dir(config: Config) -> str | None:
    """The data folder for loaders: `data.data_dir` if set, else `$SEQIT_DATA_DIR` (None if neither)."""
    return config.data.data_dir or os.environ.get("SEQIT_DATA_DIR") or None


def _explain(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid parameters ({err.error_count()} problem(s)):"]
    for problem in err.errors():
        loc = [str(part) for part in problem["loc"]]
        key = ".".join(loc) or "(top level)"
        if problem["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1])
            hint = difflib.get_close_matches(loc[-1], allowed, n=1, cutoff=0.5)
            maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
            lines.append(f"  - {key}: unknown key{maybe}; allowed keys here: {', '.join(allowed)}")
        elif problem["type"] == "missing":
            lines.append(f"  - {key}: required key is missing")
        else:
            got = problem.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"  - {key}: {problem['msg']}{shown}")
    return "\n".join(lines)


def _allowed_keys(loc: list[str]) -> list[str]:
    """Field names of the model found by walking `loc` from `Config` (dict keys are stepped over)."""
    annotation: Any = Config
    steps = list(loc)
    while steps:
        annotation = _unwrap(annotation)
        if typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
            steps.pop(0)
            continue
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        field = annotation.model_fields.get(steps.pop(0))
        if field is None:
            return []
        annotation = field.annotation
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return sorted(name for name in annotation.model_fields if name != "profile")
    return []


def _unwrap(annotation: Any) -> Any:
    """`X | None` → `X`."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and args:
        return args[0]
    return annotation


def use_profile(profile: str, root: str | Path | None = None) -> Path:
    """Validate `params/<profile>.yaml`, then make it the profile `dvc repro` runs (rewrites `params.yaml`).

    `params.yaml` holds what dvc.yaml's templating needs before any notebook runs: the profile name and its seeds
    (the training matrix), copied from the profile so there is one source of truth. `dvc exp run -S profile=...`
    would edit the same file, but it also deletes the other profiles' outputs from the workspace; this keeps them.
    """
    from seqit_utils.train.runs import train_entries

    root = find_project_root(root)
    config = load_config(profile, root)
    seeds = ", ".join(str(seed) for seed in config.experiment.seeds)
    entries = "".join(
        f"  {key}: {{run: {e['run']}, seed: {e['seed']}, data: {e['data']}}}\n"
        for key, e in train_entries(config).items()
    )
    text = (
        "# Written by `seqit profile PROFILE` (smoke | sample | paper): the profile `dvc repro` runs, its\n"
        f"# experiment.seeds and one entry per model of its run registry (stage train), from params/{profile}.yaml.\n"
        "# Do not edit by hand.\n"
        f"profile: {profile}\nseeds: [{seeds}]\ntrain_runs:{' {}' if not entries else ''}\n{entries}"
    )
    return write_text(root / "params.yaml", text)


def add_command(subparsers: Any) -> None:
    """`seqit profile PROFILE`: what `python -m seqit_utils.config PROFILE` does."""
    help_text = "validate params/PROFILE.yaml and make it the profile `dvc repro` runs"
    parser = subparsers.add_parser("profile", help=help_text, description=help_text)
    parser.add_argument("profile", choices=PROFILES)
    parser.set_defaults(func=lambda args: _switch(args.profile))


def _switch(profile: str) -> int:
    use_profile(profile)
    print(f"params.yaml: profile = {profile}; now run `dvc repro` (outputs go to outputs/{profile}/)")
    return 0


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: python -m seqit_utils.config PROFILE   (makes `dvc repro` run params/PROFILE.yaml)")
    try:
        _switch(sys.argv[1])
    except ValueError as err:
        sys.exit(f"error: {err}")
