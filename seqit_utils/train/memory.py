"""GPU memory of a training setup, computed from the model's shape (`seqit preflight`, docs/gpu.md).

Per parameter (ZeRO's accounting, Rajbhandari et al. 2020): full fine-tuning keeps fp32 master weights (4 B), fp32
gradients (4 B) and AdamW's m and v (8 B; 8-bit AdamW: 2 B plus one fp32 scale per 256-value block and state), and
under bf16/fp16 autocast a half-precision copy of every matmul weight lives until the forward pass ends (2 B). LoRA
keeps the base in the compute dtype and trains fp32 adapters; QLoRA stores linear layers as 4-bit NF4 (0.5 B plus an
absmax per 64 values, double-quantised; peft upcasts embeddings, lm_head and norms to fp32).

Per token (Korthikanti et al. 2022, adapted to a Llama block with sdpa/flash attention, so no s² term): a decoder
layer saves 22·h + 4·kv + 8·i bytes in a 2-byte dtype (two RMSNorms 8·h each: fp32 upcast + normed + scaled; q, k, v,
attention out and o_proj input 6·h + 4·kv; SwiGLU gate, up, silu and product 8·i); the loss saves 10·V (bf16 logits,
their fp32 upcast, fp32 log-softmax). With activation checkpointing only each layer's input (the residual stream) is
kept, plus one layer recomputed during the backward pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from seqit_utils.config import TrainSetup

GIB = 1024**3
OPTIMIZER_BYTES = {
    "adamw_torch": 8.0,
    "adamw_torch_fused": 8.0,
    "adamw_8bit": 2.0 + 8 / 256,
    "paged_adamw_8bit": 2.0 + 8 / 256,
}
# 4-bit values + an 8-bit absmax per 64-value block + an fp32 scale per 256 absmax (bitsandbytes double quantisation,
# as seqit_utils.train.backends.quantization_config sets it)
NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)


@dataclass(frozen=True)
class ModelShape:
    """The numbers of a Llama-architecture `config.json` that decide memory."""

    name: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    tie_word_embeddings: bool = False
    gated: bool = False  # the hub repo needs an accepted licence and a token
    hub_id: str = ""  # where the published config.json is

    @property
    def kv_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads * self.num_key_value_heads

    def module_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each linear layer of one decoder layer, by its transformers name."""
        h, i, kv = self.hidden_size, self.intermediate_size, self.kv_dim
        return {
            "q_proj": (h, h),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (h, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    @property
    def layer_linear_params(self) -> int:
        return sum(a * b for a, b in self.module_shapes().values())

    @property
    def embedding_params(self) -> int:
        """Input embeddings plus lm_head (one matrix when tied)."""
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)

    @property
    def n_params(self) -> int:
        norms = (2 * self.num_hidden_layers + 1) * self.hidden_size
        return self.num_hidden_layers * self.layer_linear_params + self.embedding_params + norms

    def lora_params(self, r: int, target_modules: list[str]) -> int:
        """Trainable LoRA parameters: A (r × in) and B (out × r) per targeted module and layer."""
        shapes = self.module_shapes()
        unknown = sorted(set(target_modules) - set(shapes))
        if unknown:
            raise ValueError(
                f"lora.target_modules {unknown} are not layers of {self.name}; allowed: {', '.join(shapes)}"
            )
        return self.num_hidden_layers * sum(r * (shapes[m][0] + shapes[m][1]) for m in target_modules)


# Published config.json values of the paper's base models (§4) and two common alternatives.
SHAPES = {
    "llama3_8b": ModelShape("Llama-3-8B", 128256, 4096, 14336, 32, 32, 8, False, True, "meta-llama/Meta-Llama-3-8B"),
    "mistral_7b": ModelShape("Mistral-7B", 32000, 4096, 14336, 32, 32, 8, False, True, "mistralai/Mistral-7B-v0.1"),
    "llama2_7b": ModelShape("Llama-2-7B", 32000, 4096, 11008, 32, 32, 32, False, True, "meta-llama/Llama-2-7b-hf"),
    "llama2_13b": ModelShape("Llama-2-13B", 32000, 5120, 13824, 40, 40, 40, False, True, "meta-llama/Llama-2-13b-hf"),
}
HUB_IDS = {
    "meta-llama/Meta-Llama-3-8B": "llama3_8b",
    "meta-llama/Meta-Llama-3-8B-Instruct": "llama3_8b",
    "mistralai/Mistral-7B-v0.1": "mistral_7b",
    "meta-llama/Llama-2-7b-hf": "llama2_7b",
    "meta-llama/Llama-2-13b-hf": "llama2_13b",
}


def shape_from_config(config: dict, name: str, *, gated: bool = False) -> ModelShape:
    """A `ModelShape` from a parsed `config.json` (transformers names)."""
    keys = [f.name for f in fields(ModelShape) if f.name not in ("name", "gated", "hub_id", "tie_word_embeddings")]
    missing = [k for k in keys if k not in config and k != "num_key_value_heads"]
    if missing:
        raise ValueError(f"{name}: config.json lacks {', '.join(missing)} (a Llama-architecture config is needed)")
    values = {k: int(config.get(k, config["num_attention_heads"])) for k in keys}
    return ModelShape(name, **values, tie_word_embeddings=bool(config.get("tie_word_embeddings", False)), gated=gated)


def resolve_shape(model: str) -> ModelShape:
    """A built-in key (`llama3_8b`), a known hub id, or a local `config.json` / model folder."""
    key = HUB_IDS.get(model, model)
    if key in SHAPES:
        return SHAPES[key]
    path = Path(model)
    path = path / "config.json" if path.is_dir() else path
    if path.is_file():
        return shape_from_config(json.loads(path.read_text(encoding="utf-8")), model)
    known = ", ".join([*SHAPES, *HUB_IDS])
    raise ValueError(f"model {model!r}: no built-in shape and no config.json there; give one of {known} or a path")


@dataclass(frozen=True)
class Estimate:
    """Bytes per GPU of one setup; `paged` optimizer state may live in CPU memory (paged optimizers)."""

    weights: float
    casts: float  # half-precision copies of fp32 weights made by autocast, alive until the forward pass ends
    gradients: float
    optimizer: float
    activations: float  # with the setup's checkpointing (the trainer turns it on on CUDA)
    activations_no_ckpt: float
    extra: float  # sharding: gathered layers; DDP: gradient buckets; QLoRA: one dequantised layer
    paged: bool = False

    @property
    def states(self) -> float:
        """Weights + gradients + optimizer state: the part a training step's tensors hold exactly."""
        return self.weights + self.gradients + self.optimizer

    @property
    def on_gpu(self) -> float:
        """What must fit in GPU memory (a paged optimizer's state is evicted to CPU when memory runs short)."""
        return self.states - (self.optimizer if self.paged else 0.0) + self.casts + self.activations + self.extra


def _compute_bytes(setup: TrainSetup) -> int:
    return 2 if (setup.bf16 or setup.fp16) else 4


def activation_bytes(shape: ModelShape, setup: TrainSetup, *, checkpointing: bool) -> float:
    """Activations of one step on one GPU: `per_device_train_batch_size` sequences of `max_length` tokens."""
    c = _compute_bytes(setup)
    h, kv, i = shape.hidden_size, shape.kv_dim, shape.intermediate_size
    layer = (22 * h + 4 * kv + 8 * i) * c / 2  # the docstring's per-token count, written for 2-byte dtypes
    # The residual stream is fp32 when the weights are (full fine-tuning keeps fp32 master weights).
    residual = h * (4 if setup.method == "full" or c == 4 else 2)
    per_token = (shape.num_hidden_layers * residual + layer) if checkpointing else shape.num_hidden_layers * layer
    per_token += 10 * shape.vocab_size  # logits and loss
    return per_token * setup.max_length * setup.per_device_train_batch_size


def estimate(shape: ModelShape, setup: TrainSetup, gpus: int = 1, *, checkpointing: bool = True) -> Estimate:
    """Memory per GPU of training `shape` with `setup` on `gpus` GPUs."""
    n, c = shape.n_params, _compute_bytes(setup)
    opt = OPTIMIZER_BYTES[setup.optim]
    half = c == 2
    if setup.method == "full":
        trainable = n
        weights = 4.0 * n  # fp32 master weights
        casts = 2.0 * (shape.num_hidden_layers * shape.layer_linear_params + shape.vocab_size * shape.hidden_size)
        casts = casts if half else 0.0
        extra_layer = 0.0
    else:
        trainable = shape.lora_params(setup.lora.r, list(setup.lora.target_modules))
        linear = shape.num_hidden_layers * shape.layer_linear_params
        # QLoRA: peft's prepare_model_for_kbit_training upcasts what is not quantised (embeddings, lm_head) to fp32
        per_linear, per_other = (NF4_BYTES, 4) if setup.method == "qlora" else (c, c)
        weights = linear * per_linear + (n - linear) * per_other + 4.0 * trainable  # base + fp32 adapters
        casts = 0.0
        largest = max(a * b for a, b in shape.module_shapes().values())
        extra_layer = 2.0 * c * largest if setup.method == "qlora" else 0.0  # dequantised for its matmul
    gradients, optimizer = 4.0 * trainable, opt * trainable
    extra = extra_layer
    if setup.distributed in ("fsdp", "deepspeed_zero3") and gpus > 1:
        weights, gradients, optimizer = weights / gpus, gradients / gpus, optimizer / gpus
        casts = 0.0  # the sharded engine gathers each layer in the compute dtype instead of autocast copies
        extra += 2 * shape.layer_linear_params * (c + 4)  # two gathered layers (current + prefetch) and their grads
    elif setup.distributed == "ddp" and gpus > 1:
        extra += gradients  # DDP's all-reduce buckets hold a second copy of the gradients
    return Estimate(
        weights=weights,
        casts=casts,
        gradients=gradients,
        optimizer=optimizer,
        activations=activation_bytes(shape, setup, checkpointing=checkpointing),
        activations_no_ckpt=activation_bytes(shape, setup, checkpointing=False),
        extra=extra,
        paged=setup.optim.startswith("paged_"),
    )


def usable_bytes(gpu_mem_gib: float) -> float:
    """What training can use of a GPU of `gpu_mem_gib` GiB: minus the CUDA context (~1 GiB) and 5% fragmentation."""
    return (gpu_mem_gib * 0.95 - 1.0) * GIB
