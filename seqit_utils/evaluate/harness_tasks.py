"""Table 5's harness benchmarks as lm-evaluation-harness tasks: their settings (`BENCHMARKS`: task, shots, published
files, hub dataset), finding the published files (`local_data_files`), rendering our task YAMLs in
`templates/lm_eval/` with their data source filled in (`render_tasks`), and the HumanEval filter those YAMLs name
(`humaneval_programs`). Running them is `seqit_utils.evaluate.harness.run_tasks`. Imports no lm_eval at module level.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).parents[1] / "templates" / "lm_eval"


@dataclass(frozen=True)
class Benchmark:
    """One column of Table 5 as the harness runs it."""

    task: str  # the harness task or group that runs
    num_fewshot: int  # Table 5's setting
    template: str | None = None  # our task YAML in templates/lm_eval (None: the harness's standard task)
    files: dict[str, str] = field(default_factory=dict)  # split -> published file name, under <data_dir>/<name>/
    hub: tuple[str, str | None] | None = None  # the harness's hub dataset (path, name), used without local files
    harness_yaml: str | None = None  # the harness task YAML the template includes (relative to lm_eval/tasks)
    unsafe: bool = False  # executes model-written code


BENCHMARKS: dict[str, Benchmark] = {
    "mmlu": Benchmark("mmlu", num_fewshot=5),
    "arc_challenge": Benchmark("arc_challenge", num_fewshot=25),
    "gsm8k": Benchmark(
        "seqit_gsm8k",
        num_fewshot=8,
        template="gsm8k.yaml",
        files={"train": "train.jsonl", "test": "test.jsonl"},
        hub=("openai/gsm8k", "main"),
        harness_yaml="gsm8k/gsm8k.yaml",
    ),
    "humaneval": Benchmark(
        "seqit_humaneval",
        num_fewshot=0,
        template="humaneval.yaml",
        files={"test": "HumanEval.jsonl.gz"},
        hub=("openai/openai_humaneval", None),
        unsafe=True,
    ),
}

DataFiles = Mapping[str, Mapping[str, "str | Path"]]


def local_data_files(data_dir: str | Path) -> dict[str, dict[str, Path]]:
    """The published files found under `data_dir` (`<data_dir>/gsm8k/test.jsonl`, ...), per benchmark.

    A benchmark is listed only when all its files are present; the others then use the harness's hub datasets.
    """
    found = {}
    for name, bench in BENCHMARKS.items():
        paths = {split: Path(data_dir) / name / file for split, file in bench.files.items()}
        if paths and all(path.is_file() for path in paths.values()):
            found[name] = paths
    return found


def render_tasks(out_dir: str | Path, data_files: DataFiles | None = None) -> Path:
    """Write our task YAMLs to `out_dir` with their data source filled in; returns `out_dir`.

    `data_files` maps a benchmark to its splits' local files (as `local_data_files` returns); a benchmark without
    an entry reads the harness's hub dataset. Usable as `lm_eval --include_path out_dir` too.
    """
    import lm_eval.tasks

    data_files = _check_data_files(data_files or {})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, bench in BENCHMARKS.items():
        if bench.template is None:
            continue
        if name in data_files:
            splits = {split: str(Path(path).resolve()) for split, path in data_files[name].items()}
            source = {"dataset_path": "json", "dataset_name": None, "dataset_kwargs": {"data_files": splits}}
        else:
            assert bench.hub is not None
            source = {"dataset_path": bench.hub[0], "dataset_name": bench.hub[1], "dataset_kwargs": None}
        if bench.harness_yaml:
            source["harness_yaml"] = str(Path(lm_eval.tasks.__file__).parent / bench.harness_yaml)
        text = string.Template((TEMPLATES / bench.template).read_text(encoding="utf-8"))
        rendered = text.substitute({key: json.dumps(value) for key, value in source.items()})
        (out_dir / bench.template).write_text(rendered, encoding="utf-8")
    return out_dir


def humaneval_programs(resps: list[list[str]], docs: list[dict[str, Any]]) -> list[list[str]]:
    """HumanEval filter: each completion becomes the program the harness's `humaneval` task runs: prompt +
    completion (its `build_predictions`) + "\\n" + tests + `check(entry_point)` (its `doc_to_target`, which
    `code_eval` appends to every candidate)."""
    return [
        [f"{doc['prompt']}{resp}\n{doc['test']}\ncheck({doc['entry_point']})" for resp in doc_resps]
        for doc_resps, doc in zip(resps, docs, strict=True)
    ]


def _check_data_files(data_files: DataFiles) -> DataFiles:
    """Every named benchmark takes local files, with exactly its splits, and every file exists."""
    local = [name for name, bench in BENCHMARKS.items() if bench.files]
    for name, splits in data_files.items():
        if name not in local:
            raise ValueError(f"data_files: {name!r} does not read local files; allowed keys: {', '.join(local)}")
        expected = set(BENCHMARKS[name].files)
        if set(splits) != expected:
            raise ValueError(f"data_files.{name}: give the splits {sorted(expected)}, got {sorted(splits)}")
        for split, path in splits.items():
            if not Path(path).is_file():
                published = BENCHMARKS[name].files[split]
                raise FileNotFoundError(
                    f"{name} {split} split: no file at {path}; give the published {published} "
                    f"(e.g. local_data_files($SEQIT_DATA_DIR) finds <data_dir>/{name}/{published}), "
                    f"or leave {name} out of data_files to use the hub"
                )
    return data_files
