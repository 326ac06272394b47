"""The sections every profile has, in pipeline order: `data` (what the data stage builds), `model` (base models and
the tiny Llama-architecture stand-in), `train` (training recipes, transformers / trl / peft names) and `experiment`
(the IT-vs-SIT comparison: seeds, SIT transform, greedy generation).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from seqit_utils.config.base import _check_choice, _Strict


class TranslateSuiteConfig(_Strict):
    """`data.task_suite.translate`: the French-input splits of the suite (`translate_suite.generate_translate_suite`).
    Stage 02 adds their French-input IT records to the IT set and writes `sit/translate_sit.jsonl` (one third of the
    seen tasks' English inputs translated); the evaluation reads `fr_seen` / `fr_unseen`."""

    n_train_per_task: int = Field(gt=0)  # French-input records per task (and of the to-English task) added to IT
    n_eval_per_split: int = Field(gt=0)
    unseen_tasks: list[str] = ["reverse", "count", "dedupe"]  # never after a translation step in training
    fraction: float = Field(default=1 / 3, gt=0, le=1)  # of the seen tasks' English inputs (§4.1.1: one third)


class TaskSuiteConfig(_Strict):
    """Arguments of `seqit_utils.data.tasks.generate_suite` (DESIGN: the miniature experiment)."""

    n_train_per_task: int = Field(gt=0)
    n_train_sit: int | None = Field(default=None, gt=0)
    n_eval_per_split: int = Field(gt=0)
    sit_intermediate_tasks: list[str]
    heldout_intermediate_tasks: list[str]
    tasks: list[str] | None = None
    n_train_chain3: int = Field(default=0, ge=0)  # 3-step training chains (split train_sit_chains3; run `train:`)
    # translate-then-answer in miniature (§4.1.1; `seqit_utils.data.translate_suite`): None = not built
    translate: TranslateSuiteConfig | None = None


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
    # Training sources (§4.1.1, §4.2) read by stage train_sets (notebook 11), not by this stage: a missing file stops
    # only the runs whose `train_data` names it. Same fields and resolution as `datasets`.
    training_sources: dict[str, DatasetSpec] = {}

    @model_validator(mode="after")
    def _distinct_names(self) -> DataConfig:
        if both := sorted(set(self.datasets) & set(self.training_sources)):
            raise ValueError(f"training_sources {both} are also in datasets; a name is read by one stage only")
        return self


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
