"""Shared fixtures: the real data folder `../shared/data` (override with $SEQIT_SHARED_DATA)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DEFAULT_SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder holding the real data files described by its MANIFEST.md; skips the test when it is absent."""
    folder = Path(os.environ.get("SEQIT_SHARED_DATA") or DEFAULT_SHARED_DATA)
    if not (folder / "MANIFEST.md").is_file():
        pytest.skip(
            f"real data not found at {folder} (no MANIFEST.md); set SEQIT_SHARED_DATA to the shared/data folder"
        )
    return folder


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run torch on one thread: the tiny models gain nothing from more, and two OpenMP threads on a busy 2-core
    machine can run ~50x slower (spinning threads fight over the cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# The Hugging Face hub is unreachable here and tests must never wait on it; DVC must not phone home.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
