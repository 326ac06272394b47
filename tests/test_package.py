"""The default install: importable without GPU, unsloth or spaCy; CPU-only torch; code passes ruff."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

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
