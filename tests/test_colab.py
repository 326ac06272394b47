"""The notebooks' Colab cell (seqit_utils.colab): a no-op without `google.colab`; with it (a stand-in module at that
one import) it installs through real pip in dry-run mode, reads the secrets and checks the prerequisite stages."""

from __future__ import annotations

import os
import re
import shutil
import sys
import types
from pathlib import Path

import nbformat
import pytest

from seqit_utils import colab

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def first_code_cell(path: Path) -> str:
    return next(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")


def test_the_url_is_written_once_and_every_cell_is_the_generated_one():
    url = re.search(r'(?m)^Repository\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert colab.repository_url(ROOT) == url
    for path in NOTEBOOKS:
        cell = first_code_cell(path)
        assert cell == colab.setup_cell(path.stem).rstrip("\n"), (
            f"{path.name}: run python -m seqit_utils.colab --write-cells"
        )
        assert "SEQIT_REPO_URL" not in cell and url in cell


def test_without_google_colab_the_cell_does_nothing(monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.chdir(tmp_path)
    path_before = list(sys.path)
    exec(first_code_cell(NOTEBOOKS[0]), {})
    assert Path.cwd() == tmp_path and sys.path == path_before
    assert not (tmp_path / "seqit").exists()


class SecretNotFoundError(Exception):
    pass


def fake_colab(secrets: dict[str, str]) -> types.ModuleType:
    """A stand-in for `google.colab` (only in Colab): `userdata.get` as Colab documents it."""

    def get(name: str) -> str:
        if name not in secrets:
            raise SecretNotFoundError(name)
        return secrets[name]

    module = types.ModuleType("google.colab")
    module.userdata = types.SimpleNamespace(get=get, SecretNotFoundError=SecretNotFoundError)
    return module


def test_in_colab_the_cell_installs_reads_secrets_and_checks_prerequisites(monkeypatch, tmp_path, capfd):
    google = sys.modules.get("google") or types.ModuleType("google")
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", fake_colab({"HF_TOKEN": "hf_secret_value"}))
    (tmp_path / "seqit").symlink_to(ROOT)  # an existing clone: the cell skips `git clone`
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("HF_TOKEN", "OPENAI_API_KEY", "VLLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    # pip's own environment options: build the project's metadata and resolve it, install nothing, ask no index
    for option in ("PIP_DRY_RUN", "PIP_NO_DEPS", "PIP_NO_INDEX"):
        monkeypatch.setenv(option, "1")
    monkeypatch.setenv("PIP_NO_BUILD_ISOLATION", "0")  # pip reads "0" as "no isolation" (its documented quirk)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    exec(first_code_cell(ROOT / "notebooks" / "00_data.ipynb"), {})
    out = capfd.readouterr().out
    assert Path.cwd().resolve() == ROOT
    assert os.environ["HF_TOKEN"] == "hf_secret_value"
    assert "hf_secret_value" not in out
    assert "HF_TOKEN: Colab secrets" in out and "OPENAI_API_KEY: not set" in out
    assert "prerequisite outputs: present" in out  # stage data needs no other stage


def test_read_secrets_prefers_the_environment_and_never_returns_values():
    env = {"OPENAI_API_KEY": "from-env"}
    found = colab.read_secrets(["HF_TOKEN", "OPENAI_API_KEY", "X"], fake_colab({"HF_TOKEN": "t"}).userdata, env)
    assert found == {"HF_TOKEN": "Colab secrets", "OPENAI_API_KEY": "environment", "X": "not set"}
    assert env == {"OPENAI_API_KEY": "from-env", "HF_TOKEN": "t"}


def test_secret_names_come_from_params():
    assert {"HF_TOKEN", "OPENAI_API_KEY"} <= set(colab.secret_names(ROOT))


def test_platform_torch_is_kept_and_picks_its_vllm(tmp_path):
    assert colab.platform_pins("2.14.0+cu128") == ["torch==2.14.0+cu128", "vllm==0.33.0"]
    assert colab.platform_pins("2.9.0+cu126") == ["torch==2.9.0+cu126"]  # no vLLM release matches: HF generation
    cmd = colab.pip_command(ROOT, tmp_path / "pins.txt", "gpu")
    assert cmd[-2:] == ["-e", f"{ROOT}[gpu]"] and str(ROOT / "constraints-gpu.txt") in cmd


def test_prerequisites_follow_dvc_yaml():
    upstream = colab.prerequisites("05_finetune", ROOT)
    assert upstream.index("data") < upstream.index("sit_data")
    assert colab.prerequisites("00_data", ROOT) == []
    with pytest.raises(ValueError, match="no stage of dvc.yaml runs notebooks/99_none.ipynb"):
        colab.prerequisites("99_none", ROOT)


def test_missing_prerequisites_are_named_and_stop_the_notebook(tmp_path):
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "params", tmp_path / "params")
    (tmp_path / ".dvc").mkdir()  # what `dvc init --no-scm` writes
    (tmp_path / ".dvc" / "config").write_text("[core]\n    no_scm = True\n    analytics = false\n")
    with pytest.raises(RuntimeError, match=r"needs the outputs of stages not run yet .*sit_data.*dvc repro"):
        colab.check_prerequisites("05_finetune", repro=False, root=tmp_path)
    for paths in colab.missing_outputs(colab.prerequisites("05_finetune", tmp_path), tmp_path).values():
        for path in paths:
            (tmp_path / path).mkdir(parents=True)
    assert colab.check_prerequisites("05_finetune", repro=False, root=tmp_path) == []


def test_training_notebooks_on_paper_run_preflight_first(tmp_path, monkeypatch, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("with CUDA the preflight would measure this machine")
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "params", tmp_path / "params")
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text("[core]\n    no_scm = True\n    analytics = false\n")
    params = (tmp_path / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(re.sub(r"(?m)^profile: \w+$", "profile: paper", params))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    colab._preflight("00_data", tmp_path)  # not a training stage: nothing to check
    with pytest.raises(RuntimeError, match="seqit preflight refused"):
        colab._preflight("05_finetune", tmp_path)
    assert "refused: HF_TOKEN is not set" in capsys.readouterr().out
