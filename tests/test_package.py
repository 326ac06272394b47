"""The default install: importable without GPU, unsloth or spaCy; CPU-only torch; code passes ruff."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_light_and_needs_no_optional_extras():
    code = (
        "import sys, seqit_utils, seqit_utils.config, seqit_utils.io, seqit_utils.data.sources, "
        "seqit_utils.data.loaders, "
        "seqit_utils.data.tasks, seqit_utils.data.prepare, seqit_utils.notebooks\n"
        "heavy = [m for m in ('torch', 'unsloth', 'spacy', 'bitsandbytes', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_default_install_has_cpu_torch_and_no_cuda_packages():
    import torch

    assert torch.version.cuda is None, f"a CUDA build of torch was installed: {torch.__version__}"
    cuda = sorted(d.metadata["Name"] for d in metadata.distributions() if d.metadata["Name"].startswith("nvidia-"))
    assert cuda == [], f"CUDA packages in the default install: {cuda}"


def test_ruff_lint_and_format():
    for args in (["check", "."], ["format", "--check", "."]):
        done = subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, f"ruff {' '.join(args)}:\n{done.stdout}{done.stderr}"


def _pins(name: str) -> dict[str, str]:
    from packaging.utils import canonicalize_name

    lines = (ROOT / name).read_text().splitlines()
    return {canonicalize_name(n): v for n, v in (s.split("==") for s in lines if s and not s.startswith("#"))}


def test_torch_is_a_range_kept_from_the_platform_and_both_sets_fit_the_projects_ranges():
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    requirements = [Requirement(r) for r in project["dependencies"] + extras["gpu"] + extras["eval"]]
    torch = next(r for r in requirements if r.name == "torch")
    assert not any(s.operator == "==" for s in torch.specifier), "an exact torch would replace Colab's CUDA build"
    cpu, gpu = _pins("constraints.txt"), _pins("constraints-gpu.txt")
    assert cpu["torch"] == "2.13.0" and "torch" not in gpu  # the GPU set keeps the platform's torch
    assert not {"vllm", "xformers", "triton", "torchvision"} & set(gpu)  # each is built against one torch release
    for pins in (cpu, gpu):
        for req in requirements:
            version = pins.get(canonicalize_name(req.name))
            assert version is None or req.specifier.contains(version, prereleases=True), (req, version)
    assert {"unsloth", "unsloth-zoo", "bitsandbytes"} <= set(gpu)
