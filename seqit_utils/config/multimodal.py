"""The `multimodal` section (§4.1.2, Table 3): the InstructBLIP model (or a tiny one built from config), its VQAv2 /
COCO / GQA data and the Q-Former training recipe.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from seqit_utils.config.base import _Strict


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
