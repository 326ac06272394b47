"""`seqit preflight`: before any work, does the training setup fit the GPUs, and can the run reach its model and judge?

Run it first on a GPU machine (`seqit preflight --profile paper`), or plan for hardware you do not have
(`--gpus 4 --gpu-mem-gb 80`). It prints every setup of the profile with its memory per GPU
(`seqit_utils.train.memory`), refuses the chosen setup when it does not fit and names, on the last line
(`fits: <setup>`), the setup of the profile that does. Access: a gated base model needs `HF_TOKEN` (checked against
the hub unless the hardware is simulated), and the judge's key variable must be set, so neither fails after the data
stages. With simulated hardware a missing key is a warning; on the GPU machine it is a refusal.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from seqit_utils.config import Config, TrainSetup, load_config
from seqit_utils.train.memory import GIB, Estimate, ModelShape, estimate, resolve_shape, usable_bytes

METHOD_RANK = {"full": 0, "lora": 1, "qlora": 2}  # the paper's v3 recipe first, then the cheaper approximations


@dataclass(frozen=True)
class Hardware:
    gpus: int
    mem_gib: float  # of the smallest GPU
    label: str
    simulated: bool


def detect_hardware() -> Hardware | None:
    """The CUDA GPUs of this machine (None without CUDA)."""
    import torch

    if not torch.cuda.is_available() or torch.cuda.device_count() == 0:
        return None
    props = [torch.cuda.get_device_properties(i) for i in range(torch.cuda.device_count())]
    mem = min(p.total_memory for p in props) / GIB
    return Hardware(len(props), mem, f"{len(props)} × {props[0].name} ({mem:.1f} GiB)", simulated=False)


def estimates(shape: ModelShape, setups: dict[str, TrainSetup], hw: Hardware) -> dict[str, Estimate]:
    return {name: estimate(shape, setup, hw.gpus) for name, setup in setups.items()}


def best_fit(setups: dict[str, TrainSetup], found: dict[str, Estimate], hw: Hardware) -> str | None:
    """The setup to recommend: the closest to the paper's full fine-tuning that fits, on every GPU, largest batch."""
    fitting = [name for name in setups if found[name].on_gpu <= usable_bytes(hw.mem_gib)]

    def key(name: str) -> tuple[int, bool, int]:
        setup = setups[name]
        spreads = setup.distributed != "none" or hw.gpus == 1
        return (METHOD_RANK[setup.method], not spreads, -setup.per_device_train_batch_size)

    return min(fitting, key=key) if fitting else None


def table(setups: dict[str, TrainSetup], found: dict[str, Estimate], hw: Hardware, chosen: str) -> list[str]:
    """A markdown table, GiB per GPU; `*` marks the chosen setup."""
    cols = (
        "setup",
        "method",
        "optim",
        "distributed",
        "weights",
        "casts",
        "grads",
        "optimizer",
        "act.",
        "act. no ckpt",
    )
    lines = ["| " + " | ".join((*cols, "extra", "per GPU", "fits")) + " |", "|" + "---|" * (len(cols) + 3)]
    usable = usable_bytes(hw.mem_gib)
    for name, setup in setups.items():
        e = found[name]
        optimizer = f"{e.optimizer / GIB:.1f}" + (" (paged)" if e.paged else "")
        values = [e.weights, e.casts, e.gradients]
        cells = [f"{name}{' *' if name == chosen else ''}", setup.method, setup.optim, setup.distributed]
        cells += [f"{v / GIB:.1f}" for v in values] + [optimizer]
        cells += [f"{v / GIB:.1f}" for v in (e.activations, e.activations_no_ckpt, e.extra, e.on_gpu)]
        cells.append("yes" if e.on_gpu <= usable else "no")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _remote(base_url: str | None) -> bool:
    host = urlparse(base_url or "").hostname or ""
    return bool(host) and host not in ("localhost", "127.0.0.1", "::1")


def key_problems(config: Config, env: dict[str, str]) -> list[str]:
    """Missing API keys of the profile's generator and judge endpoints that are not on this machine."""
    if config.llm is None:
        return []
    problems = []
    for role in ("judge", "generator"):
        name = getattr(config.llm, role)
        spec = config.llm.endpoints[name]
        if _remote(spec.base_url) and not env.get(spec.api_key_env):
            problems.append(
                f"{spec.api_key_env} is not set: llm.{role} = {name} ({spec.base_url}) needs it; "
                f"set it in the environment (Colab: Secrets, name {spec.api_key_env})"
            )
    return sorted(set(problems))


def token_problems(model_id: str, shape: ModelShape, env: dict[str, str]) -> list[str]:
    """A gated hub model without a token."""
    if not shape.gated or os.path.exists(model_id) or env.get("HF_TOKEN"):
        return []
    return [
        f"HF_TOKEN is not set: {model_id} is gated on the Hugging Face hub; accept its licence at "
        f"https://huggingface.co/{model_id} and set HF_TOKEN to a read token (Colab: Secrets, name HF_TOKEN)"
    ]


def hub_problems(model_id: str, env: dict[str, str]) -> list[str]:
    """Ask the hub whether the token may read `model_id` (offline: whether its config is in the local cache)."""
    if os.path.exists(model_id):
        return []
    import huggingface_hub
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    if env.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        if isinstance(huggingface_hub.try_to_load_from_cache(model_id, "config.json"), str):
            return []
        return [f"HF_HUB_OFFLINE is set and {model_id} is not in the local cache: unset HF_HUB_OFFLINE or download it"]
    try:
        huggingface_hub.auth_check(model_id, token=env.get("HF_TOKEN"))
    except GatedRepoError:
        return [f"HF_TOKEN has no access to {model_id}: accept its licence at https://huggingface.co/{model_id}"]
    except RepositoryNotFoundError:
        return [f"{model_id} is not on the hub (or is private): check model.base_models in params"]
    except HfHubHTTPError as err:  # e.g. 401: an invalid or expired token
        return [f"the hub refused the request for {model_id} ({str(err).splitlines()[0]}): check HF_TOKEN"]
    except Exception as err:  # connection refused, DNS, proxy, timeout: the hub cannot be reached from here
        return [
            f"the Hugging Face hub is unreachable ({type(err).__name__}), so access to {model_id} cannot be checked: "
            "fix the network, or put the model in the local cache and set HF_HUB_OFFLINE=1"
        ]
    return []


def preflight(
    config: Config, *, setup: str | None, hardware: Hardware | None, model: str | None, env: dict[str, str]
) -> tuple[int, list[str]]:
    """The report's lines and the exit code (0: go; 1: refused)."""
    setups = config.train.setups
    chosen = setup or config.train.setup
    if chosen not in setups:
        raise ValueError(f"--setup {chosen!r} is not in train.setups; allowed values: {', '.join(setups)}")
    model_id = model or config.model.base_models[config.model.base].name_or_path
    shape = resolve_shape(model_id)
    model_id = shape.hub_id or model_id  # a built-in key (llama3_8b) stands for its hub repo
    lines = [f"preflight: profile {config.profile}, setup {chosen}, model {model_id} ({shape.n_params / 1e9:.2f}B)"]
    access = token_problems(model_id, shape, env)
    if (hardware is None or not hardware.simulated) and not access:
        access += hub_problems(model_id, env)  # the network check: only on the machine that will run
    access += key_problems(config, env)
    refusals = [] if hardware is not None and hardware.simulated else list(access)
    lines += [f"{'warning' if not refusals else 'refused'}: {p}" for p in access]
    if hardware is None:
        lines += ["refused: no CUDA GPU found (torch.cuda); simulate hardware with --gpus N --gpu-mem-gb G"]
        return 1, lines
    found = estimates(shape, setups, hardware)
    usable = usable_bytes(hardware.mem_gib)
    kind = "simulated" if hardware.simulated else "detected"
    lines += [f"GPUs ({kind}): {hardware.label}; usable per GPU {usable / GIB:.1f} GiB (GiB per GPU below)", ""]
    lines += table(setups, found, hardware, chosen) + [""]
    need = found[chosen].on_gpu
    if need > usable:
        best = best_fit(setups, found, hardware)
        lines.append(f"refused: {chosen} needs {need / GIB:.1f} GiB per GPU, {usable / GIB:.1f} GiB usable")
        if best is None:
            least = min(setups, key=lambda n: found[n].on_gpu)
            lines.append(f"fits: none (the smallest, {least}, needs {found[least].on_gpu / GIB:.1f} GiB per GPU)")
        else:
            lines.append(f"fits: {best}")
        return 1, lines
    if refusals:
        lines.append(f"refused: {len(refusals)} access problem(s) above; fix them before the data stages")
        return 1, lines
    lines.append(f"fits: {chosen}")
    return 0, lines


# What torch reports as total memory (GiB) for common cards, cheapest first (docs/gpu.md's table).
CARDS = (
    ("T4 16 GB", 1, 14.75),
    ("L4 / A10G 24 GB", 1, 22.0),
    ("A100 40 GB", 1, 39.4),
    ("A100 / H100 80 GB", 1, 79.1),
    ("8 × A100 40 GB", 8, 39.4),
    ("4 × A100 80 GB", 4, 79.1),
)


def fit_table(setups: dict[str, TrainSetup], models: list[str]) -> list[str]:
    """Markdown: per setup and model, GiB per GPU and the first card of `CARDS` it fits (docs/gpu.md)."""
    head = ["setup", "method", "optim", "distributed"]
    for model in models:
        head += [f"{resolve_shape(model).name} GiB/GPU", "smallest fit"]
    lines = ["| " + " | ".join([*head, "time per 1K steps"]) + " |", "|" + "---|" * (len(head) + 1)]
    for name, setup in setups.items():
        cells = [name, setup.method, setup.optim, setup.distributed]
        for model in models:
            shape = resolve_shape(model)
            cards = [c for c in CARDS if (c[1] > 1) == (setup.distributed != "none")]
            fits = [c for c in cards if estimate(shape, setup, c[1]).on_gpu <= usable_bytes(c[2])]
            gpus = fits[0][1] if fits else cards[-1][1]
            cells += [f"{estimate(shape, setup, gpus).on_gpu / GIB:.1f}", fits[0][0] if fits else "none listed"]
        lines.append("| " + " | ".join([*cells, "not measured here (no GPU)"]) + " |")
    return lines


def hardware_from_args(args: argparse.Namespace) -> Hardware | None:
    if (args.gpus is None) != (args.gpu_mem_gb is None):
        raise ValueError("give both --gpus and --gpu-mem-gb to simulate hardware, or neither to detect it")
    if args.gpus is not None:
        if args.gpus < 1 or args.gpu_mem_gb <= 0:
            raise ValueError("--gpus must be ≥ 1 and --gpu-mem-gb > 0")
        return Hardware(args.gpus, args.gpu_mem_gb, f"{args.gpus} × {args.gpu_mem_gb:g} GiB", simulated=True)
    return detect_hardware()


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.profile)
    code, lines = preflight(
        config, setup=args.setup, hardware=hardware_from_args(args), model=args.model, env=dict(os.environ)
    )
    print("\n".join(lines))
    return code


def add_command(subparsers: Any) -> None:
    """`seqit preflight`: memory and access checks before a GPU run."""
    help_text = "check that a training setup fits the GPUs and that the gated model and the judge are reachable"
    parser = subparsers.add_parser("preflight", help=help_text, description=help_text)
    parser.add_argument("--profile", default="paper", help="params/PROFILE.yaml (default: paper)")
    parser.add_argument("--setup", help="a key of train.setups (default: train.setup)")
    parser.add_argument("--gpus", type=int, help="simulate N GPUs instead of detecting them")
    parser.add_argument("--gpu-mem-gb", type=float, help="memory of each simulated GPU, GiB (e.g. 16, 24, 40, 80)")
    parser.add_argument("--model", help="built-in shape (llama3_8b, ...), hub id or local config.json / folder")
    parser.set_defaults(func=_run)
