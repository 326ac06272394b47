"""What the notebooks' first cell does in Google Colab (and nothing elsewhere): install seqit with its GPU extra while
keeping Colab's own torch, put the keys from Colab secrets into the environment, and check the notebook's prerequisite
DVC stages (run them, or name them and stop).

The cell itself (`setup_cell`) only clones the repository, whose address is written once, in pyproject.toml's
`[project.urls] Repository` (tests/test_colab.py keeps every notebook's copy equal to it), and calls `setup`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from seqit_utils.config import PROFILES, find_project_root, load_config

CLONE_DIR = "~/seqit"  # a fixed place (Colab: /root/seqit), so a re-run of the cell finds the clone
EXTRAS = "gpu,eval,analysis"  # the notebooks' needs; vLLM is added when a release matches the platform's torch
# Each vLLM release requires one exact torch release (its metadata: 0.31/0.32 torch==2.13.0, 0.33/0.34 torch==2.14.0);
# the newest that also accepts constraints-gpu.txt (transformers 5.17; 0.34 wants huggingface-hub >= 2, which
# transformers 5.17 refuses) is picked for the platform's torch. Both pairs are resolved by .ci/run.
VLLM_FOR_TORCH = {"2.13.0": "0.32.0", "2.14.0": "0.33.0"}
SHOWN = ("torch", "transformers", "trl", "peft", "datasets", "unsloth", "bitsandbytes", "vllm")  # resolver summary
TRAINING_STAGES = ("train", "finetune", "ablation_finetune", "multimodal")  # stages that run `seqit preflight` first


def repository_url(root: str | Path | None = None) -> str:
    """pyproject.toml's `[project.urls] Repository` (a checkout), else the installed package's metadata."""
    try:
        text = (find_project_root(root) / "pyproject.toml").read_text(encoding="utf-8")
    except FileNotFoundError:
        urls = metadata.metadata("seqit").get_all("Project-URL") or []
        found = [u.split(",", 1)[1].strip() for u in urls if u.lower().startswith("repository,")]
    else:
        found = re.findall(r'(?m)^Repository\s*=\s*"([^"]+)"', text)
    if not found:
        raise ValueError('pyproject.toml has no [project.urls] Repository = "...": add the project\'s git URL there')
    return found[0]


def setup_cell(notebook: str, root: str | Path | None = None) -> str:
    """The source of `notebook`'s first code cell (the same in every notebook but for its name)."""
    return (
        "# Colab only (a no-op elsewhere): clone seqit (URL: pyproject.toml [project.urls]), install it with the GPU\n"
        "# extra keeping Colab's torch, read HF_TOKEN and the judge key from Colab secrets, check prerequisites.\n"
        "try:\n"
        "    import google.colab  # noqa: F401\n"
        "except ImportError:\n"
        "    pass\n"
        "else:\n"
        "    import os\n"
        "    import subprocess\n"
        "    import sys\n"
        "\n"
        f'    repo = os.path.expanduser("{CLONE_DIR}")\n'
        "    if not os.path.isdir(repo):\n"
        f'        subprocess.run(["git", "clone", "--depth=1", "{repository_url(root)}", repo], check=True)\n'
        "    os.chdir(repo)\n"
        "    sys.path.insert(0, repo)\n"
        "    from seqit_utils import colab\n"
        "\n"
        f'    colab.setup("{notebook}", repro=False)  # True: run the missing prerequisite stages with dvc repro\n'
    )


def platform_torch() -> str | None:
    """The installed torch release (Colab's CUDA build, e.g. 2.13.0+cu128), kept by the install."""
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def platform_pins(torch: str) -> list[str]:
    """Constraints that keep `torch` and pick the vLLM release built for it (none known: no vLLM)."""
    vllm = VLLM_FOR_TORCH.get(torch.split("+")[0])
    return [f"torch=={torch}", *([f"vllm=={vllm}"] if vllm else [])]


def pip_command(repo: Path, pins: Path, extras: str) -> list[str]:
    """pip: the project editable with `extras`, the GPU constraint set, and the platform pins as constraints."""
    pip = [sys.executable, "-m", "pip", "install", "-q", "-c", str(repo / "constraints-gpu.txt")]
    return [*pip, "-c", str(pins), "-e", f"{repo}[{extras}]"]


def _pins_file(torch: str) -> Path:
    with tempfile.NamedTemporaryFile("w", suffix="-platform.txt", delete=False) as pins:
        pins.write("\n".join(platform_pins(torch)) + "\n")
    return Path(pins.name)


def install(repo: Path) -> str:
    """Install with the platform's torch kept (and vLLM when a release matches it); returns the extras installed."""
    torch = platform_torch()
    if torch is None:
        raise RuntimeError("no torch installed: install the platform's CUDA build of torch first (Colab has one)")
    extras = EXTRAS + (",vllm" if "vllm==" in " ".join(platform_pins(torch)) else "")
    if extras == EXTRAS:
        print(f"seqit: no vLLM release is known to match torch {torch}; generation uses the HF backend")
    pins = _pins_file(torch)
    try:
        subprocess.run(pip_command(repo, pins, extras), check=True)
    finally:
        pins.unlink()
    return extras


def resolve(repo: Path, torch: str, extras: str = EXTRAS + ",vllm", *, uv: str | None = None) -> dict[str, str]:
    """A resolver run of the GPU set beside `torch`, nothing installed: name -> chosen version. pip (`--dry-run`,
    the command Colab runs) downloads whole wheels to read their metadata (minutes: vLLM alone is 330 MB); `uv`
    (the path of a uv binary) reads only the metadata and takes seconds, so CI uses it."""
    pins = _pins_file(torch)
    report = pins.with_suffix(".out")
    try:
        if uv:
            flags = [f"--extra={extra}" for extra in extras.split(",")]
            target = ["--python-version=3.11", "--python-platform=x86_64-manylinux_2_28", "--quiet", "-o", str(report)]
            cmd = [uv, "pip", "compile", str(repo / "pyproject.toml"), *flags, "-c", str(repo / "constraints-gpu.txt")]
            subprocess.run([*cmd, "-c", str(pins), *target], check=True)
            found = re.findall(r"(?m)^([A-Za-z0-9_.-]+)==(\S+)", report.read_text(encoding="utf-8"))
            return {name.lower().replace("_", "-"): version for name, version in found}
        cmd = pip_command(repo, pins, extras)
        cmd[cmd.index("-q")] = "--dry-run"
        subprocess.run([*cmd, "--ignore-installed", "--quiet", "--report", str(report)], check=True)
        chosen = json.loads(report.read_text(encoding="utf-8"))["install"]
        return {item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"] for item in chosen}
    finally:
        pins.unlink()
        report.unlink(missing_ok=True)


def secret_names(root: str | Path | None = None) -> list[str]:
    """HF_TOKEN and the key variables of every profile's LLM endpoints (`api_key_env` in params)."""
    names = {"HF_TOKEN"}
    for profile in PROFILES:
        config = load_config(profile, root)
        names.update(spec.api_key_env for spec in (config.llm.endpoints.values() if config.llm else []))
    return sorted(names)


def read_secrets(names: list[str], userdata: Any, env: Any = os.environ) -> dict[str, str]:
    """Copy Colab secrets into `env` (a variable already set wins); returns where each came from, never a value."""
    found = {}
    for name in names:
        if env.get(name):
            found[name] = "environment"
            continue
        try:
            value = userdata.get(name)
        except Exception:  # Colab raises SecretNotFoundError, or NotebookAccessError when access is not granted
            value = None
        if value:
            env[name] = value
        found[name] = "Colab secrets" if value else "not set"
    return found


def _stages(root: Path) -> tuple[Any, Any]:
    from dvc.repo import Repo

    index = Repo(str(root)).index
    return index.stages, index.graph


def prerequisites(notebook: str, root: str | Path | None = None) -> list[str]:
    """The DVC stages (upstream, in run order) whose outputs `notebook`'s stages need (profile: params.yaml's)."""
    import networkx as nx

    stages, graph = _stages(find_project_root(root))
    own = [s for s in stages if f"notebooks/{Path(notebook).stem}.ipynb" in (s.cmd or "")]
    if not own:
        raise ValueError(f"no stage of dvc.yaml runs notebooks/{Path(notebook).stem}.ipynb")
    order: list[str] = []
    for stage in own:
        for node in nx.dfs_postorder_nodes(graph, stage):
            if node not in own and node.addressing not in order:
                order.append(node.addressing)
    return order


def missing_outputs(stage_names: list[str], root: str | Path | None = None) -> dict[str, list[str]]:
    """For each stage, its outputs that are not in the workspace (paths relative to the project)."""
    root = find_project_root(root)
    stages, _ = _stages(root)
    by_name = {s.addressing: s for s in stages}
    missing = {}
    for name in stage_names:
        absent = [o.def_path for o in by_name[name].outs if not (root / o.def_path).exists()]
        if absent:
            missing[name] = absent
    return missing


def check_prerequisites(notebook: str, *, repro: bool, root: str | Path | None = None) -> list[str]:
    """Run (`repro`) or name the prerequisite stages with missing outputs; raises RuntimeError to stop the notebook."""
    root = find_project_root(root)
    missing = missing_outputs(prerequisites(notebook, root), root)
    if not missing:
        return []
    if repro:
        subprocess.run(["dvc", "repro", *missing], cwd=root, check=True)
        return list(missing)
    profile = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))["profile"]
    named = "; ".join(
        f"{stage} ({', '.join(paths[:2])}{' …' if len(paths) > 2 else ''})" for stage, paths in missing.items()
    )
    raise RuntimeError(
        f"{notebook} needs the outputs of stages not run yet for profile {profile!r}: {named}. Run them first "
        f"(`!dvc repro {' '.join(missing)}`), or call colab.setup({notebook!r}, repro=True)"
    )


def _preflight(notebook: str, root: Path) -> None:
    """Training notebooks on the paper profile: refuse a setup that does not fit before any work."""
    from seqit_utils.train import preflight

    profile = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))["profile"]
    stages, _ = _stages(root)
    names = {s.name.split("@")[0] for s in stages if f"notebooks/{notebook}.ipynb" in (s.cmd or "")}
    if profile != "paper" or not names & set(TRAINING_STAGES):
        return
    config = load_config(profile, root)
    hardware = preflight.detect_hardware()
    code, lines = preflight.preflight(config, setup=None, hardware=hardware, model=None, env=dict(os.environ))
    print("\n".join(lines))
    if code != 0:
        raise RuntimeError(f"seqit preflight refused: {lines[-1]} (set train.setup in params/paper.yaml)")


def setup(notebook: str, *, repro: bool = False, root: str | Path = ".") -> None:
    """The Colab cell's work, from the clone's folder: install, secrets, preflight, prerequisites."""
    from google.colab import userdata  # only reached in Colab (or a test's stand-in at that one import)

    root = find_project_root(root)
    extras = install(root)
    importlib.invalidate_caches()  # the packages pip just added become importable in this kernel
    sources = read_secrets(secret_names(root), userdata)
    print(f"seqit installed from {root} with [{extras}]; keys: " + ", ".join(f"{k}: {v}" for k, v in sources.items()))
    _preflight(Path(notebook).stem, root)
    ran = check_prerequisites(notebook, repro=repro, root=root)
    print(f"prerequisite stages run: {', '.join(ran)}" if ran else "prerequisite outputs: present")


def write_setup_cells(root: str | Path | None = None) -> list[Path]:
    """Rewrite the first code cell of every notebook as `setup_cell` (after the Repository URL changes)."""
    import nbformat

    written = []
    for path in sorted((find_project_root(root) / "notebooks").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        cell = next(c for c in notebook.cells if c.cell_type == "code")
        source = setup_cell(path.stem, root).rstrip("\n")
        if cell.source != source:
            cell.source, cell.outputs, cell.execution_count = source, [], None
            nbformat.write(notebook, path)
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """`python -m seqit_utils.colab --resolve --torch 2.13.0 [--uv PATH]`: CI's check that the GPU set resolves;
    `--write-cells`: regenerate the notebooks' Colab cells."""
    parser = argparse.ArgumentParser(description="resolve the GPU install (pip --dry-run) beside a platform's torch")
    parser.add_argument("--resolve", action="store_true")
    parser.add_argument("--torch", help="the platform's torch release, e.g. 2.13.0 or 2.14.0")
    parser.add_argument("--uv", help="resolve with this uv binary (seconds) instead of pip --dry-run (minutes)")
    parser.add_argument("--write-cells", action="store_true", help="rewrite every notebook's first code cell")
    args = parser.parse_args(argv)
    if args.write_cells:
        print("\n".join(f"rewrote {path}" for path in write_setup_cells()) or "every Colab cell is up to date")
        return 0
    if not (args.resolve and args.torch):
        parser.error("give --resolve --torch VERSION, or --write-cells")
    try:
        chosen = resolve(find_project_root(), args.torch, uv=args.uv)
    except subprocess.CalledProcessError as err:
        print(
            f"GPU set does not resolve beside torch {args.torch} (resolver exit {err.returncode}; its reason is above)"
        )
        return 1
    print("GPU set resolves: " + ", ".join(f"{name} {chosen.get(name, '(not chosen)')}" for name in SHOWN))
    if chosen.get("torch", "").split("+")[0] != args.torch.split("+")[0]:
        print(f"but torch {chosen.get('torch')} was chosen instead of the platform's {args.torch}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
