"""Every model a profile trains, as one list: what it trains on, with which transform, from which base, for which
tables, and which DVC stage trains it (`seqit runs`).

Three stages train models today: `finetune` (the IT/SIT pair of notebook 05, one per `experiment.seeds`),
`ablation_finetune` (`ablations.runs`, Table 6/12 and the §5.2 swaps) and `multimodal` (Table 3's Q-Formers). This
module reads all three from the validated params, so the list is what `dvc repro` would train. Ablation runs are
listed as `ablations/<name>` (their own models, trained apart from the pair even where the recipe is the same).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from seqit_utils.config import Config, find_project_root, load_config

# Tables the IT/SIT pair of stage `finetune` feeds (notebooks 01, 04, 06, 08, 10).
PAIR_TABLES = ("table_1", "table_2", "table_5", "table_7", "table_8", "table_9", "table_10", "table_11", "table_13")
COLUMNS = ("run", "train_data", "transform", "base", "tables", "stage", "seeds")


def _pair_data(config: Config) -> list[str]:
    """What stage 02 builds the IT/SIT sets from: the task suite, or the real training data (Alpaca)."""
    if config.data.task_suite is not None:
        return ["task_suite"]
    return [name for name, spec in config.data.datasets.items() if spec.loader == "alpaca"]


def _base(config: Config, key: str | None) -> str:
    spec = config.model.base_models[key or config.model.base]
    return "tiny (from config)" if spec.name_or_path == "tiny" else spec.name_or_path


def list_runs(config: Config) -> list[dict[str, Any]]:
    """One entry per trained model (seeds folded into one entry per run), keys as `COLUMNS`."""
    pair_data, seeds = _pair_data(config), list(config.experiment.seeds)
    transforms = {"it": "none", "sit": config.experiment.sit_transform}
    tables = [*PAIR_TABLES, "miniature"] if config.data.task_suite is not None else list(PAIR_TABLES)
    runs = [
        {"run": variant, "train_data": pair_data, "transform": transforms[variant], "base": _base(config, None),
         "tables": tables, "stage": "finetune", "seeds": seeds}
        for variant in ("it", "sit")
    ]  # fmt: skip
    ablations = config.ablations
    for name, run in (ablations.runs if ablations else {}).items():
        if run.generator is not None:
            source = config.seq_instruct.source if config.seq_instruct else "?"
            data, transform = [source], f"seq_instruct (generator {run.generator})"
        else:
            data, transform = pair_data, transforms.get(run.train, run.train)
        base = _base(config, run.base) + (f" ({', '.join(f'{k}={v}' for k, v in run.tiny.items())})" if run.tiny else "")
        runs.append(
            {"run": f"ablations/{name}", "train_data": data, "transform": transform, "base": base,
             "tables": list(run.tables), "stage": "ablation_finetune", "seeds": [seeds[0]]}
        )  # fmt: skip
    if config.multimodal is not None:
        mm = config.multimodal
        data = ["synthetic images"] if mm.data.source == "synthetic" else ["vqav2", "coco_captions"]
        for name, transform in (("multimodal_it", "none"), ("multimodal_sit", "caption")):
            runs.append(
                {"run": name, "train_data": data, "transform": transform, "base": mm.model, "tables": ["table_3"],
                 "stage": "multimodal", "seeds": [mm.seed]}
            )  # fmt: skip
    return runs


def as_table(runs: list[dict[str, Any]]) -> str:
    """The runs as an aligned plain-text table."""
    rows = [list(COLUMNS)] + [
        [", ".join(map(str, r[c])) if isinstance(r[c], list) else str(r[c]) for c in COLUMNS] for r in runs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def add_command(subparsers: Any) -> None:
    """`seqit runs --profile P [--json]`."""
    help_text = "list every model a profile trains: training data, transform, base model, tables, stage"
    parser = subparsers.add_parser("runs", help=help_text, description=help_text)
    parser.add_argument("--profile", default="smoke", help="smoke | sample | paper (default: smoke)")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.set_defaults(func=_print)


def _print(args: argparse.Namespace) -> int:
    runs = list_runs(load_config(args.profile, find_project_root()))
    print(json.dumps(runs, indent=1, ensure_ascii=False) if args.json else as_table(runs))
    return 0
