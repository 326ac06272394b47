"""`seqit gpu-check`: the acceptance check of a new GPU box, in minutes and with no hub download.

For the paper's base models at their real shapes (built from the config values in `seqit_utils.train.memory`, random
weights, a locally trained tokenizer), it trains every single-process setup of the profile that `seqit preflight`
says fits, for a few steps, through the same loading code as the real runs (`seqit_utils.train.backends.load`),
and measures peak memory and tokens/s; then generation throughput with each installed backend (HF; vLLM when
installed). The report (`outputs/<profile>/gpu_check.json`) puts each measurement beside the preflight estimate.

The loop, the JSON and the comparison run in the tests on CPU with a tiny shape (`check(..., device="cpu")`);
what needs CUDA is the peak-memory reading and vLLM.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from seqit_utils.config import TrainSetup, load_config
from seqit_utils.io import write_json
from seqit_utils.train.memory import GIB, SHAPES, ModelShape, estimate, usable_bytes

MODELS = ("llama3_8b", "mistral_7b")  # the paper's base models (§4)


def save_random_model(shape: ModelShape, out_dir: Path, *, seed: int = 0) -> Path:
    """A Llama-architecture model of `shape` with random weights (bf16) and a small local tokenizer, loadable by
    `backends.load`; token ids above the tokenizer's vocabulary are fine for timing and memory."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from seqit_utils.train.tiny import train_tokenizer

    names = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
    config = LlamaConfig(
        **{k: getattr(shape, k) for k in names},
        num_key_value_heads=shape.num_key_value_heads,
        tie_word_embeddings=shape.tie_word_embeddings,
        dtype="bfloat16",
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(out_dir)
    train_tokenizer(["a b c d e f g h"] * 8, vocab_size=64, model_max_length=8192).save_pretrained(out_dir)
    return out_dir


def _optimizer(setup: TrainSetup, params: list[Any]) -> Any:
    import torch

    if setup.optim in ("adamw_torch", "adamw_torch_fused"):
        return torch.optim.AdamW(params, lr=setup.learning_rate)
    import bitsandbytes as bnb  # 8-bit optimizers: GPU extra

    kind = bnb.optim.PagedAdamW8bit if setup.optim == "paged_adamw_8bit" else bnb.optim.AdamW8bit
    return kind(params, lr=setup.learning_rate)


def train_steps(model_dir: Path, setup: TrainSetup, *, device: str, steps: int) -> dict[str, float]:
    """`steps` optimizer steps of `setup` on random tokens: seconds, tokens/s, exact state bytes, peak (CUDA)."""
    import torch

    from seqit_utils.train import backends, compat
    from seqit_utils.train.trainer import resolve_backend

    cuda = device.startswith("cuda")
    backend = resolve_backend(setup, cuda=cuda)
    model, _ = backends.load(model_dir, setup, backend, seed=0, cuda=cuda)
    if setup.method != "qlora":
        model.to(device)
    if cuda:
        compat.enable_checkpointing(model)
        torch.cuda.reset_peak_memory_stats()
    dtype = backends.compute_dtype(setup, cuda=cuda)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = _optimizer(setup, trainable)
    shape = (setup.per_device_train_batch_size, setup.max_length)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        ids = torch.randint(0, model.config.vocab_size, shape, generator=generator).to(device)
        with torch.autocast(device.split(":")[0], dtype=dtype, enabled=dtype != torch.float32):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=False)  # gradients stay allocated, as between accumulation steps
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    states = sum(p.numel() * p.element_size() for p in model.parameters())
    states += sum(p.grad.numel() * p.grad.element_size() for p in trainable if p.grad is not None)
    states += sum(
        t.numel() * t.element_size() for s in optimizer.state.values() for t in s.values() if torch.is_tensor(t)
    )
    return {
        "seconds": seconds,
        "tokens_per_s": steps * shape[0] * shape[1] / seconds,
        "state_bytes": float(states),
        "peak_bytes": float(torch.cuda.max_memory_allocated()) if cuda else float("nan"),
    }


def generate_hf(model_dir: Path, *, device: str, batch: int, prompt_len: int, new_tokens: int) -> dict[str, float]:
    """Greedy generation throughput of the transformers backend (bf16 on CUDA, fp32 on CPU)."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
    ids = torch.randint(0, model.config.vocab_size, (batch, prompt_len), generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(ids.to(device), max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "tokens_per_s": (out.shape[1] - prompt_len) * batch / seconds}


def generate_vllm(model_dir: Path, *, batch: int, prompt_len: int, new_tokens: int) -> dict[str, float]:
    """Offline batch generation throughput of vLLM (CUDA only), from token ids (no tokenizer needed)."""
    import random

    from vllm import LLM, SamplingParams

    llm = LLM(str(model_dir), skip_tokenizer_init=True, dtype="bfloat16", seed=0)
    rng = random.Random(0)
    prompts = [{"prompt_token_ids": [rng.randrange(1000) for _ in range(prompt_len)]} for _ in range(batch)]
    params = SamplingParams(max_tokens=new_tokens, min_tokens=new_tokens, temperature=0.0, detokenize=False)
    start = time.perf_counter()
    outputs = llm.generate(prompts, params)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "tokens_per_s": sum(len(o.outputs[0].token_ids) for o in outputs) / seconds}


def check(
    shapes: dict[str, ModelShape],
    setups: dict[str, TrainSetup],
    *,
    device: str,
    gpus: int,
    mem_gib: float,
    steps: int = 3,
    work_dir: Path,
    generation: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Train each setup that fits (per the estimate) on each shape, then generate; measured beside estimated."""
    generation = generation or {"batch": 16, "prompt_len": 128, "new_tokens": 128}
    backends = ["hf"] + (["vllm"] if device.startswith("cuda") and importlib.util.find_spec("vllm") else [])
    report: dict[str, Any] = {"device": device, "gpus": gpus, "gpu_mem_gib": mem_gib, "runs": [], "generation": []}
    for key, shape in shapes.items():
        model_dir = save_random_model(shape, work_dir / key)
        for name, setup in setups.items():
            e = estimate(shape, setup, 1)
            row: dict[str, Any] = {"model": shape.name, "setup": name, "estimate": asdict(e) | {"on_gpu": e.on_gpu}}
            if setup.distributed != "none":
                row["status"] = "skipped: several processes (accelerate launch), not this single-process check"
            elif e.on_gpu > usable_bytes(mem_gib):
                row["status"] = f"skipped: does not fit ({e.on_gpu / GIB:.1f} GiB estimated)"
            elif setup.method == "qlora" and not device.startswith("cuda"):
                row["status"] = "skipped: 4-bit QLoRA needs CUDA"
            else:
                row |= train_steps(model_dir, setup, device=device, steps=steps) | {"status": "ok"}
                # the comparison: exact states vs the estimate's states; on CUDA the peak vs what must fit
                row["states_ratio"] = row["state_bytes"] / e.states
                row["peak_ratio"] = row["peak_bytes"] / e.on_gpu
            report["runs"].append(row)
        for backend in backends:
            runner = generate_vllm if backend == "vllm" else generate_hf
            kwargs = {} if backend == "vllm" else {"device": device}
            report["generation"].append(
                {"model": shape.name, "backend": backend, **runner(model_dir, **kwargs, **generation)}
            )
    return report


def _run(args: argparse.Namespace) -> int:
    import torch

    if not torch.cuda.is_available():
        print("seqit gpu-check: CUDA is required (torch finds no CUDA GPU); run it on the GPU machine")
        return 2
    config = load_config(args.profile)
    mem = min(torch.cuda.get_device_properties(i).total_memory for i in range(torch.cuda.device_count())) / GIB
    with tempfile.TemporaryDirectory(prefix="seqit-gpu-check-") as tmp:
        report = check(
            {k: SHAPES[k] for k in MODELS},
            config.train.setups,
            device="cuda",
            gpus=torch.cuda.device_count(),
            mem_gib=mem,
            steps=args.steps,
            work_dir=Path(tmp),
        )
    out = Path(args.out or config.output_dir / "gpu_check.json")
    write_json(out, report)
    for row in report["runs"]:
        measured = (
            f"peak {row['peak_bytes'] / GIB:.1f} GiB, {row['tokens_per_s']:.0f} tokens/s"
            if row["status"] == "ok"
            else ""
        )
        print(f"{row['model']} {row['setup']}: {row['status']} {measured}".rstrip())
    print(f"seqit gpu-check: {len(report['runs'])} runs, {len(report['generation'])} generation runs -> {out}")
    return 0


def add_command(subparsers: Any) -> None:
    """`seqit gpu-check`: a few real training steps and generation on this GPU box, against the estimates."""
    help_text = "train each setup that fits for a few steps on the paper's model shapes and time generation (CUDA)"
    parser = subparsers.add_parser("gpu-check", help=help_text, description=help_text)
    parser.add_argument("--profile", default="paper", help="params/PROFILE.yaml whose train.setups are checked")
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps per setup")
    parser.add_argument("--out", help="the JSON report (default: outputs/<profile>/gpu_check.json)")
    parser.set_defaults(func=_run)
