"""The data stage (`notebooks/00_data.ipynb`): build the profile's task suite and export its real datasets.

Everything is loaded and validated in memory first; files are written (atomically) only when all inputs loaded, so
a bad record or a missing dataset writes nothing.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from seqit_utils import io
from seqit_utils.config import Config, data_dir
from seqit_utils.data import loaders, sizes, tasks, translate_suite


def build_task_suite(config: Config) -> dict[str, list[dict[str, Any]]]:
    """The built-in task suite's splits for this profile ({} when the profile has none)."""
    suite = config.data.task_suite
    if suite is None:
        return {}
    splits = tasks.generate_suite(seed=config.seed, **suite.model_dump(exclude={"translate"}))
    if suite.translate is not None:  # §4.1.1 in miniature: translate_train_it, _train_sit, _eval_seen, _eval_unseen
        splits |= translate_suite.generate_translate_suite(seed=config.seed, **suite.translate.model_dump())
    return splits


def load_datasets(config: Config) -> dict[str, list[dict[str, Any]]]:
    """Every dataset listed under `data.datasets`, resolved path → $SEQIT_DATA_DIR → hub, in internal schema."""
    out = {}
    specs = config.data.datasets
    for name, spec in tqdm(specs.items(), desc="load datasets", disable=not specs):
        # §4.2 samples are drawn with the profile's seed unless the entry names its own.
        seed = {"seed": config.seed} if "seed" in inspect.signature(loaders.LOADERS[spec.loader]).parameters else {}
        out[name] = loaders.load(
            spec.loader, path=spec.path, data_dir=data_dir(config), limit=spec.limit, **(seed | spec.options)
        )
        sizes.check_spec(name, spec, out[name], data_dir(config))  # a sample where the full set is meant: refused
    return out


def write_data(
    config: Config,
    suite: dict[str, list[dict[str, Any]]],
    datasets: dict[str, list[dict[str, Any]]],
    root: str | Path = ".",
) -> dict[str, Any]:
    """Replace `outputs/<profile>/data/` whole with the suite's splits and the datasets; return a summary."""
    counts: dict[str, int] = {}
    with io.atomic_dir(Path(root) / config.output_dir / "data") as data_root:
        for split, records in suite.items():
            counts[f"task_suite/{split}"] = io.write_jsonl(data_root / "task_suite" / f"{split}.jsonl", records)
        for name, records in datasets.items():
            counts[f"real/{name}"] = io.write_jsonl(data_root / "real" / f"{name}.jsonl", records)
    summary: dict[str, Any] = {"records": counts}
    if suite:
        summary["task_suite"] = tasks.summarize(suite)
    return summary


def prepare_data(config: Config, root: str | Path = ".") -> dict[str, Any]:
    """Build, load and write the profile's data in one call (what the notebook does step by step)."""
    return write_data(config, build_task_suite(config), load_datasets(config), root)
