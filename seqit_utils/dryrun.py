"""`seqit dry-run`: the `paper` profile's own DAG — every run, stage and table — on a CPU in minutes.

What a user runs on a new GPU box before a 20-hour run, and how CI proves that `paper` is wired. The project is
copied into a work folder whose `params/paper.yaml` is the real one with every expensive part replaced by a stand-in
of the same kind (`dry_params`): Llama-3-8B by a tiny Llama built from config (stage 02's `tiny` base), Mistral-7B by
a tiny Mistral built here from config, InstructBLIP-Vicuna-7B by the tiny InstructBLIP of smoke; each data set cut to
a few items (a set that cannot be found is dropped and listed); each training source not on this machine (FlanCoT,
Tulu-V2, MetaMathQA, multilingual Alpaca, the authors' released Seq-Instruct sets) a *synthetic stand-in*: a few
Alpaca records written in the source's published layout into the run's data folder (`seqit_utils.data.layouts`);
each training setup cut to a few steps on the CPU (QLoRA as LoRA: bitsandbytes needs a GPU); the endpoints that make
training data (llm.generator, the runs' generators, the §5.1 step split) a deterministic program answering the
project's prompt formats (`seqit_utils.llm.standin`: no LLM that can follow them runs on a CPU), the judge a local
`transformers serve` of the tiny base. Then `dvc repro --keep-going` runs the whole DAG there; the summary lists every
run (training set, transform, base, tables) with what happened to it, and every stand-in.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from seqit_utils import io
from seqit_utils.config import find_project_root, load_config

TINY_LLAMA = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128,
              "max_position_embeddings": 1024, "vocab_size": 2000}  # fmt: skip
TRAIN_RECORDS = 64  # Alpaca records the dry run trains on and runs Seq-Instruct over (evaluation sets keep `items`)
STANDIN_RECORDS = 12  # records of each synthetic training source (Alpaca records with an input)
SERVED_BASE = "base/seed-{seed}"  # stage 02's tiny Llama: what the judge endpoint becomes
MISTRAL_DIR = "dryrun_models/tiny-mistral"  # relative to the work folder
RELEASED = ("flancot", "tulu")  # the released Seq-Instruct sets a paper run can use (seq_instruct.released)


def dry_params(
    paper: dict[str, Any],
    *,
    items: int,
    steps: int,
    dropped: list[str],
    mistral: str = MISTRAL_DIR,
    standin: str = "http://127.0.0.1:1/v1",
) -> dict[str, Any]:
    """`params/paper.yaml` (as loaded YAML) with its expensive parts replaced by stand-ins (module docstring).
    `dropped`: data set names to leave out (not found here); `mistral`: where the tiny Mistral is; `standin`: the
    base URL of the stand-in for data-making LLMs."""
    raw = copy.deepcopy(paper)
    seed = raw["seed"]
    datasets = raw["data"]["datasets"]
    for name in dropped:
        datasets.pop(name, None)
    for spec in datasets.values():
        spec["limit"] = items
        if spec["loader"] == "alpaca":  # the 52K file is not here: its 1k sample stands in, on purpose
            spec["options"] = {**spec.get("options", {}), "filename": "alpaca_data_1k.json"}
            spec["allow_sample"] = True
            spec["limit"] = TRAIN_RECORDS  # enough for every §5.1 builder to keep some records
    for spec in raw["data"].get("training_sources", {}).values():
        spec["limit"] = STANDIN_RECORDS  # every record of a stand-in (a real file found here: its first ones)
    raw["model"]["tiny"] = dict(TINY_LLAMA)
    for spec in raw["model"]["base_models"].values():  # Llama-family bases share stage 02's tiny Llama
        spec["name_or_path"] = mistral if "mistral" in spec["name_or_path"].lower() else "tiny"
    for setup in raw["train"]["setups"].values():
        if setup["method"] == "qlora":
            setup["method"], setup["backend"] = "lora", "peft"
        if setup.get("backend") == "unsloth":
            setup["backend"] = "peft"
        setup.update(max_steps=steps, per_device_train_batch_size=2, gradient_accumulation_steps=1, max_length=256,
                     learning_rate=1e-3, bf16=False, fp16=False, distributed="none", save_steps=1000,
                     logging_steps=1, load_best_model_at_end=False)  # fmt: skip
        setup.pop("optim", None)  # 8-bit / paged optimizers need bitsandbytes on a GPU
    generator = raw["llm"]["generator"]
    makers = {generator, *(run["generator"] for run in raw["runs"].values() if run.get("generator"))}
    if raw.get("ablations", {}).get("seq_instruct_split"):  # the split asks the generator's stand-in, not the judge
        raw["ablations"]["seq_instruct_split"]["endpoint"] = generator
    for name, spec in raw["llm"]["endpoints"].items():
        for key in ("base_url", "model", "api_key_env", "serve", "suite"):
            spec.pop(key, None)
        if name in makers:
            spec.update(base_url=standin, model=standin_model(), sampling={"temperature": 0.0}, concurrency=8)
        else:
            spec.update(serve=SERVED_BASE.format(seed=seed), sampling={"temperature": 0.0, "max_tokens": 24})
            spec["concurrency"] = 4
    raw["seq_instruct"]["limit"] = TRAIN_RECORDS  # all of Alpaca's IT records: §5.1 pairs IT with their SIT
    raw["seqeval"].update(limit=items, judge_limit=items)
    raw["experiment"]["generation"]["max_new_tokens"] = 16  # untrained stand-ins run to the limit: the wiring only
    evaluation = raw["evaluation"]
    evaluation["limit"] = items
    for key in ("xquad", "mgsm", "csqa", "alpaca_eval"):
        if key in evaluation:
            evaluation[key]["max_new_tokens"] = 16
    evaluation["alpaca_eval"].update(method="judge", limit=items)
    evaluation["harness"].update(limit=2, max_gen_toks=16)
    raw["multimodal"] = _tiny_multimodal(raw["multimodal"], items)
    return raw


def _tiny_multimodal(paper: dict[str, Any], items: int) -> dict[str, Any]:
    """Table 3's stage with a tiny InstructBLIP on generated images (VQAv2/COCO/GQA cannot be downloaded here)."""
    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
    return {
        "model": "tiny",
        "tiny": {"image_size": 32, "patch_size": 8, "num_query_tokens": 4, "vision": dict(small),
                 "qformer": {**small, "max_position_embeddings": 64},
                 "text": {**small, "max_position_embeddings": 256, "vocab_size": 400}, "lm_warmup_steps": 5},
        "prompt_template": paper["prompt_template"],
        # 8 images: SIT (neg.) forces a caption of *another* image, which a 2-image set may not have
        "data": {"source": "synthetic", "synthetic": {"n_images": max(items, 8), "questions_per_image": 2, "seed": 0},
                 "eval_limit": max(items, 8)},
        "train": {"learning_rate": 1e-3, "num_train_epochs": 1, "per_device_train_batch_size": 4, "max_length": 128},
        "max_new_tokens": 8,
        "seed": paper["seed"],
        "vqa_accuracy": paper["vqa_accuracy"],
    }  # fmt: skip


# ---------------------------------------------------------------- running it
def missing_datasets(raw: dict[str, Any], data_dir: str | None) -> dict[str, str]:
    """Data sets of `raw` that cannot be read here (no local file, hub unreachable): name → the loader's reason."""
    from seqit_utils.data import loaders
    from seqit_utils.data.sources import DataNotFoundError

    missing = {}
    for name, spec in raw["data"]["datasets"].items():
        try:
            loaders.load(spec["loader"], path=spec.get("path"), data_dir=data_dir, limit=1, **spec.get("options", {}))
        except DataNotFoundError as err:
            missing[name] = str(err).splitlines()[0]
    return missing


def copy_project(root: Path, dest: Path) -> None:
    """The project's files (tracked + new, not ignored) into `dest`, a fresh git repository (DVC needs one)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for name in filter(None, listed.split("\0")):
        if (root / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, dest / name)
    git = ["git", "-c", "user.name=seqit", "-c", "user.email=seqit@localhost"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "seqit dry-run copy"]):
        subprocess.run([*git, *cmd], cwd=dest, check=True, capture_output=True)


def build_mistral(dest: Path, texts: list[str], seed: int) -> Path:
    """The tiny Mistral that stands in for Mistral-7B (tokenizer trained on `texts`)."""
    from seqit_utils.train import tiny

    return tiny.build_tiny(texts, dest / MISTRAL_DIR, seed=seed, architecture="mistral", **TINY_LLAMA)


def standin_model() -> str:
    from seqit_utils.llm.standin import MODEL

    return MODEL


def data_folder(work: Path, data_dir: str | None, raw: dict[str, Any]) -> tuple[Path, dict[str, str]]:
    """`work/data`: `data_dir` linked, plus a synthetic stand-in (`layouts.standin_folder`) for each training source
    of `raw` (and released Seq-Instruct set, with `seq_instruct.released`) not found there."""
    from seqit_utils.data import layouts

    wanted = {name: (s["loader"], s.get("options", {})) for name, s in raw["data"].get("training_sources", {}).items()}
    if raw["seq_instruct"].get("released", "never") != "never":
        wanted |= {f"released {name}": ("seqins_released", {"name": name}) for name in RELEASED}
    records = [r for r in _sample_texts(data_dir, 200) if r.get("input")][:STANDIN_RECORDS]
    return work / "data", layouts.standin_folder(work / "data", data_dir, wanted, records)


def run_dry(root: Path, work: Path, *, items: int, steps: int, data_dir: str | None) -> dict[str, Any]:
    """Copy the project into `work/project`, write the dry params, run `dvc repro --keep-going`; the summary."""
    from seqit_utils.llm.standin import standin_server

    start = time.monotonic()
    project = work / "project"
    if project.exists():
        shutil.rmtree(project)
    copy_project(root, project)
    (project / "dvc.lock").unlink(missing_ok=True)  # the smoke profile's record: this DAG is paper's
    paper = yaml.safe_load((root / "params" / "paper.yaml").read_text())
    probe = dry_params(paper, items=items, steps=steps, dropped=[])
    missing = missing_datasets(probe, data_dir)
    folder, standins = data_folder(work, data_dir, paper)
    with standin_server(log_path=work / "standin.log") as standin:
        dry = dry_params(paper, items=items, steps=steps, dropped=list(missing), mistral=str(project / MISTRAL_DIR),
                         standin=standin.base_url)  # fmt: skip
        io.write_text(project / "params" / "paper.yaml", yaml.safe_dump(dry, sort_keys=False, allow_unicode=True))
        code, log = _repro(project, folder, data_dir)
    return summarize(root, project, log, missing, standins, code, time.monotonic() - start)


def _repro(project: Path, folder: Path, data_dir: str | None) -> tuple[int, str]:
    """The tiny Mistral, `seqit profile paper` and `dvc repro --keep-going` in `project`: (exit code, log)."""
    dry = yaml.safe_load((project / "params" / "paper.yaml").read_text())
    texts = [json.dumps(r, ensure_ascii=False) for r in _sample_texts(data_dir)]
    build_mistral(project, texts, dry["seed"])
    env = {
        **os.environ,
        "PYTHONPATH": str(project),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "DVC_NO_ANALYTICS": "1",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        "SEQIT_DATA_DIR": str(folder),
    }
    subprocess.run([sys.executable, "-m", "seqit_utils.config", "paper"], cwd=project, env=env, check=True,
                   capture_output=True)  # fmt: skip
    log = project.parent / "dvc_repro.log"
    with open(log, "w") as out:
        done = subprocess.run([sys.executable, "-m", "dvc", "repro", "--keep-going"], cwd=project, env=env,
                              stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    return done.returncode, log.read_text()


def _sample_texts(data_dir: str | None, limit: int = 200) -> list[dict[str, Any]]:
    """Alpaca records (the 1k sample of `data_dir`), or a few made-up ones without it."""
    from seqit_utils.data import loaders

    if data_dir:
        return loaders.load("alpaca", data_dir=data_dir, limit=limit)
    return [{"id": f"made_up/{i}", "instruction": f"Repeat the number {i}.", "input": f"{i} {i + 1}",
             "output": f"{i} {i + 1}"} for i in range(limit)]  # fmt: skip


def summarize(
    root: Path, project: Path, log: str, missing: dict[str, str], standins: dict[str, str], code: int, seconds: float
) -> dict[str, Any]:
    """Every stage (ran or not) and every run of the real `paper` registry with what happened to it."""
    from seqit_utils.train import runs

    stages = subprocess.run([sys.executable, "-m", "dvc", "stage", "list", "--name-only"], cwd=project,
                            capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    lock = yaml.safe_load((project / "dvc.lock").read_text()) if (project / "dvc.lock").is_file() else {}
    ran = set((lock or {}).get("stages", {}))
    failed = set(re.findall(r"failed to reproduce '([^']+)'", log))
    status = {s: "ran" if s in ran else "failed" if s in failed else "not run (upstream failed)" for s in stages}
    config = load_config("paper", root)
    listed = []
    for entry in runs.list_runs(config):
        if entry["trained"] == "stage multimodal":
            entry["dry_run"] = status.get("multimodal")
        else:
            keys = [f"train@{entry['run']}-{seed}" for seed in entry["seeds"]]
            entry["dry_run"] = next((status[k] for k in keys if k in status), entry["trained"])
        listed.append(entry)
    return {"runs": listed, "stages": status, "dropped_datasets": missing, "synthetic_standins": standins,
            "dvc_exit_code": code, "wall_seconds": round(seconds, 1),
            "ok": all(v == "ran" for v in status.values())}  # fmt: skip


def add_command(subparsers: Any) -> None:
    """`seqit dry-run [--work DIR] [--items N] [--steps N]`."""
    help_text = "run the paper profile's whole DAG on the CPU with tiny stand-ins (minutes): is paper wired?"
    parser = subparsers.add_parser("dry-run", help=help_text, description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default=None, help="work folder (default: a new temporary folder)")
    parser.add_argument("--items", type=int, default=4, help="items per data set and evaluation (default 4)")
    parser.add_argument("--steps", type=int, default=3, help="training steps per run (default 3)")
    parser.add_argument("--json", default=None, help="also write the summary as JSON to this file")
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    root = find_project_root()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="seqit-dry-run-"))
    summary = run_dry(root, work, items=args.items, steps=args.steps, data_dir=os.environ.get("SEQIT_DATA_DIR"))
    from seqit_utils.train.runs import as_table

    print(as_table([{**r, "trained": r["dry_run"]} for r in summary["runs"]]))
    for name, reason in summary["dropped_datasets"].items():
        print(f"data set not found here (left out): {name}: {reason}")
    for name, what in summary["synthetic_standins"].items():
        print(f"training source not found here: {name}: {what}")
    for stage, state in summary["stages"].items():
        if state != "ran":
            print(f"stage {stage}: {state}")
    if args.json:
        io.write_json(Path(args.json), summary)
    print(f"dry run of paper: {sum(v == 'ran' for v in summary['stages'].values())}/{len(summary['stages'])} stages "
          f"ran in {summary['wall_seconds']:.0f} s; log {work / 'dvc_repro.log'}")  # fmt: skip
    return 0 if summary["ok"] else 1
