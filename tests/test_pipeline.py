"""End to end: `dvc repro` of the smoke profile in a fresh copy of the project, offline; a second run skips
everything; switching profile (`python -m seqit_utils.config sample && dvc repro`) writes only under outputs/sample/.

To keep CI in minutes, the copy's smoke profile is shrunk (fewer records, 20 training steps instead of 1,000): this
checks that every stage runs and writes what it promises, not the miniature result (docs/miniature.md has that run).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from seqit_utils.config import load_config
from seqit_utils.evaluate import ablation_eval
from seqit_utils.multimodal import vqa_data
from seqit_utils.train.runs import train_entries

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SEQIT_SHARED_DATA") or ROOT.parent / "shared" / "data")
CANARY = "sk-canary-4f1d0c9e-never-write-me"
pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The project's files (tracked + new, not ignored) copied into a new git repository."""
    dest = tmp_path_factory.mktemp("clone") / "seqit"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    env = {
        **os.environ,
        # `python` in dvc.yaml's cmds must be this environment's interpreter
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    env.pop("SEQIT_DATA_DIR", None)
    if (SHARED / "MANIFEST.md").is_file():  # stage 03 then also checks its parsers on the authors' recorded replies
        env["SEQIT_DATA_DIR"] = str(SHARED)  # (the smoke data stage reads no real data either way)
    env["OPENAI_API_KEY"] = CANARY  # sent to the local server as the bearer token: must not be written anywhere
    smoke = yaml.safe_load((dest / "params" / "smoke.yaml").read_text())
    suite = smoke["data"]["task_suite"]
    suite.update(n_train_per_task=200, n_train_sit=2600, n_train_chain3=1300, n_eval_per_split=20)
    suite["translate"].update(n_train_per_task=30, n_eval_per_split=20)
    smoke["train"]["setups"]["tiny_scratch"].update(
        max_steps=20, save_steps=10, lr_scheduler_kwargs={"num_decay_steps": 4}
    )
    smoke["seq_instruct"]["limit"], smoke["seqeval"]["limit"] = 26, 8
    smoke["train"]["setups"]["tiny_finetune"].update(max_steps=10, lr_scheduler_kwargs={"num_decay_steps": 2})
    for run in smoke["runs"].values():  # the §5.1 runs (fine-tuning `it`) on seed 0 here
        if run.get("init"):
            run["seeds"] = [0]
    # an opt-in run of params/smoke.yaml (commented out there: the §5.2 generator swap), here on seed 0
    smoke["runs"]["seq_instruct_local"] = {
        "train_data": ["task_suite"],
        "transform": "seq_instruct",
        "generator": "local_base",
        "tables": ["model_swaps"],
        "seeds": [0],
    }
    smoke["multimodal"]["data"].update(synthetic={"n_images": 12, "questions_per_image": 3, "seed": 0}, eval_limit=12)
    smoke["multimodal"]["tiny"]["lm_warmup_steps"] = 30
    (dest / "params" / "smoke.yaml").write_text(yaml.safe_dump(smoke, sort_keys=False))
    _run([sys.executable, "-m", "seqit_utils.config", "smoke"], dest, env)  # params.yaml: the opt-in runs' entries
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        _run(cmd, dest, env)
    return dest, env


@pytest.mark.timeout(1800)  # ~10 min on 2 idle cores (18 short trainings); 900 s is too close under load
def test_smoke_repro_runs_every_stage_then_skips(project):
    dest, env = project
    dvc = [sys.executable, "-m", "dvc"]
    first = _run([*dvc, "repro"], dest, env)
    out = dest / "outputs" / "smoke"
    metrics = json.loads((out / "metrics/data.json").read_text())
    counts = metrics["records"]
    assert counts["task_suite/train_it"] == 13 * 200 and counts["task_suite/eval_seq2_unseen"] == 20
    assert metrics["provenance"]["params"]["profile"] == "smoke"
    lines = (out / "data/task_suite/train_it.jsonl").read_text().splitlines()
    assert len(lines) == counts["task_suite/train_it"]
    sit_data = json.loads((out / "metrics/sit_data.json").read_text())
    it = 2600 + 19 * 30  # the suite's IT records + the French-input ones and to-English (19 tasks × 30)
    assert sit_data["records"] == {"it": it, "sit": it + 2600, "sit_chain3": it + 2600, "translate_sit": it}
    for variant in ("it", "sit"):
        for seed in (0, 1):
            trained = json.loads((out / f"metrics/train-{variant}-{seed}.json").read_text())
            assert trained["global_step"] == 20 and trained["provenance"]["seeds"] == [seed]
            assert (out / f"models/{variant}-{seed}/model.safetensors").is_file()
            assert (out / f"notebooks/05_finetune-{variant}-{seed}.ipynb").is_file()
    # the contract of outputs/smoke/metrics/miniature.json: <test_set>.<model> → follow_all, accuracy, n; seeds
    mini = json.loads((out / "metrics/miniature.json").read_text())
    assert mini["seeds"] == [0, 1]
    suite_sets = ("single", "two_step_seen", "two_step_unseen", "chain3", "chain4", "chain5", "fr_seen", "fr_unseen")
    for test_set in suite_sets:
        for model in ("it", "sit", "translate_sit", "sit_seq_instruct", "sit_chain3"):
            cell = mini[f"{test_set}.{model}"]
            assert cell["n"] == 20 and 0 <= cell["follow_all"] <= 1 and 0 <= cell["accuracy"] <= 1
    assert "| two_step_seen | 20 |" in (out / "tables/miniature.md").read_text()
    assert "Running stage 'manual_sit_eval'" in first
    _check_llm_stages(out)
    _check_eval_stages(out)

    ablations = json.loads((out / "metrics/ablations.json").read_text())
    assert ablations["it"] == 26 and ablations["data_level"]["reached"]  # the IT records Seq-Instruct ran over
    assert ablations["instance_level"]["equal_lengths"] and ablations["sit_split"]["records"] > 26
    # SIT-multi's assistant turns are SIT-split's outputs: the same step outputs, so the same token total
    assert ablations["sit_multi"]["output_tokens"] == ablations["sit_split"]["output_tokens"] > 0
    split = ablations["seq_instruct_split"]  # the suite generator splits every changed record into its steps
    assert split["steps"]["records"] == split["sequential_in_source"] <= 26
    assert split["steps"]["split_by_llm"] == split["sequential_in_source"] > 0
    assert split["steps"]["split_by_llm"] + sum(split["steps"]["left_out"].values()) == split["sequential_in_source"]
    params = yaml.safe_load((dest / "params" / "smoke.yaml").read_text())
    _check_ablation_runs(out, params["runs"], params["experiment"]["seeds"])
    _check_claims(out)
    _check_multimodal(out)

    second = _run([*dvc, "repro"], dest, env)
    assert "didn't change, skipping" in second and "Running stage" not in second
    assert "up to date" in _run([*dvc, "status"], dest, env)
    # the figures stage draws every figure again after figures/ is deleted, byte for byte
    before = {p.name: p.read_bytes() for p in (dest / "figures").iterdir()}
    assert {"smoke_sunburst_seq_instruct.png", "smoke_number_of_tasks.pdf", "smoke_number_of_tasks_suite.png"} <= set(
        before
    )
    assert all(name.startswith("smoke_") for name in before)
    shutil.rmtree(dest / "figures")
    redrawn = _run([*dvc, "repro"], dest, env)
    assert "Running stage 'figures'" in redrawn and "Running stage 'analysis'" not in redrawn  # drawn, not re-parsed
    assert {p.name: p.read_bytes() for p in (dest / "figures").iterdir()} == before
    # stage 03 again with its outputs gone: every reply comes from the request cache, no request is sent
    again = _run([*dvc, "repro", "--force", "--single-item", "seq_instruct"], dest, env)
    client = json.loads((out / "metrics/seq_instruct.json").read_text())["client"]
    assert client["requests"] == 0 and client["cache_hits"] == client["items"] > 0, again[-2000:]


def _check_llm_stages(out: Path) -> None:
    """Stages 03 and 04 ran against a real `transformers serve` of the smoke SIT model: every record accounted for,
    every fallback counted, and the API key nowhere on disk (cache, logs, notebooks, metrics)."""
    run = json.loads((out / "metrics/seq_instruct.json").read_text())
    assert [it["n"] for it in run["run"]["iterations"]] == [26, 26]
    for k in (1, 2):
        rows = [json.loads(line) for line in (out / f"seq_instruct/iteration_{k}.jsonl").read_text().splitlines()]
        assert len(rows) == 26 and len({r["source_id"] for r in rows}) == 26 and {r["iteration"] for r in rows} == {k}
        assert all(r["completions"]["option"] is not None and r["reasons"]["option"] for r in rows)
    assert run["client"]["requests"] >= 52 and run["client"]["failures"] == 0
    assert "stands in for Llama-3-70B-Instruct" in json.dumps(run)  # the suite generator, named as a stand-in
    assert run["run"]["options"]["D"] < 2 * 26  # it rewrites: not every record is held
    agreement = json.loads((out / "metrics/parser_agreement.json").read_text())
    if (SHARED / "MANIFEST.md").is_file():  # the contract: per recorded generator file
        assert len(agreement) >= 10
        for name, cell in agreement.items():
            assert name.endswith(".jsonl") and cell["n"] > 0 and 0 <= cell["option_agreement"] <= 1, name
    else:
        assert "SEQIT_DATA_DIR" in agreement["skipped"]
    assert "| ours (suite) | 1 | 26 |" in (out / "tables/table4.md").read_text()
    seqeval = json.loads((out / "metrics/seqeval.json").read_text())
    assert seqeval["benchmark"] == "constructed" and seqeval["n_items"] == 8
    for variant in ("it", "sit_seq_instruct"):  # the rows of the tables that read SeqEval (5, 13)
        for seed in ("0", "1"):
            cell = seqeval["single"][variant][seed]
            assert cell["n"] == 8 and cell["n_parsed"] + cell["n_unparseable"] == 8
    assert set(seqeval["pairwise"]["by_seed"]) == {"0", "1"}
    verdicts = (out / "generations/seqeval.jsonl").read_text().splitlines()
    assert len(verdicts) == 2 * 2 * 8
    for path in out.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path


def _check_eval_stages(out: Path) -> None:
    """Notebooks 06 and 08 evaluated each run on the benchmarks of its own tables (params `tables:`; 4 items each in
    smoke, the harness 2 documents) and wrote the paper's tables; what cannot run here is listed with its reason."""
    read = lambda name: json.loads((out / f"metrics/{name}.json").read_text())  # noqa: E731
    if not (SHARED / "MANIFEST.md").is_file():
        assert read("xquad")["skipped"].startswith("data not found")
        return
    table5 = ("it", "sit_seq_instruct")  # Table 5 reads every benchmark; Tables 2/9 xquad, 10/11 mgsm, 1/7/8 csqa
    runs_of = {"xquad": (*table5, "translate_sit"), "mgsm": table5, "csqa": ("it", "sit"), "gsm8k": table5,
               "humaneval": table5, "alpaca_eval": table5}  # fmt: skip
    every = {"it", "sit", "translate_sit", "sit_seq_instruct", "sit_chain3"}
    for benchmark, names in runs_of.items():
        metrics = read(benchmark)
        assert not (every - set(names)) & set(metrics), benchmark  # a run is asked only for its tables' benchmarks
        for name in names:
            assert metrics[name]["models"] == [f"{name}-0", f"{name}-1"], benchmark
    xquad, mgsm, csqa = read("xquad"), read("mgsm"), read("csqa")
    for name in runs_of["xquad"]:
        for lang in ("en", "de", "vi"):
            assert xquad[name][lang]["n"] == 4 and 0 <= xquad[name][lang]["paper_accuracy"] <= 1
    assert 0 <= mgsm["sit_seq_instruct"]["trans-cot/de"]["paper_accuracy"] <= 1 and csqa["sit"]["repeat"]["n"] == 4
    assert read("gsm8k")["it"]["all"]["n"] == 2 and read("humaneval")["sit_seq_instruct"]["all"]["n"] == 2
    assert xquad["translate_sit"]["de"] == xquad["translate_sit"]["sit-prompt/de"]
    assert xquad["it"]["de"] == xquad["it"]["it-prompt/de"]
    assert read("mmlu")["skipped"].startswith("data not available")
    assert read("arc_challenge")["skipped"].startswith("data not available")
    assert read("alpaca_eval")["sit_seq_instruct-0"]["all"]["n"] == 4
    rows = (out / "generations/benchmarks_06.jsonl").read_text().splitlines()
    # models × items × settings: XQuAD 6 models × 2 prompts × 3 languages, MGSM 4 models × 4, CSQA 4 models × 3
    assert len(rows) == 4 * (6 * 6 + 4 * 4 + 4 * 3)
    for table in ("table_2", "table_5", "table_7", "table_8", "table_9", "table_10", "table_11"):
        for ext in ("md", "csv", "tex"):
            assert (out / f"tables/{table}.{ext}").is_file(), (table, ext)
    for model in ("it-0", "it-1", "translate_sit-0", "translate_sit-1"):  # our XQuAD generations, authors' layout
        rescored = (out / f"rescore/{model}.md").read_text()
        assert "| paper |" in rescored and "| strict |" in rescored
    table5_md = (out / "tables/table_5.md").read_text()
    assert "| SIT |" in table5_md and "Not run: mmlu: data not available" in table5_md


def test_switching_profile_writes_its_own_folder(project, shared_data):
    dest, env = project
    before = {p: p.read_bytes() for p in (dest / "outputs/smoke/data").rglob("*.jsonl")}
    env = {**env, "SEQIT_DATA_DIR": str(shared_data)}
    _run([sys.executable, "-m", "seqit_utils.config", "sample"], dest, env)
    _run([sys.executable, "-m", "dvc", "repro", "data"], dest, env)  # training sample models is for the README run
    metrics = json.loads((dest / "outputs/sample/metrics/data.json").read_text())
    assert metrics["records"]["real/xquad_de"] == 50 and metrics["records"]["real/seqeval"] == 100
    assert {p: p.read_bytes() for p in (dest / "outputs/smoke/data").rglob("*.jsonl")} == before
    # an unknown profile is refused before params.yaml changes
    bad = subprocess.run([sys.executable, "-m", "seqit_utils.config", "smoek"], cwd=dest, env=env, capture_output=True)
    assert bad.returncode != 0 and b"allowed values: paper, sample, smoke" in bad.stderr
    written = yaml.safe_load((dest / "params.yaml").read_text())
    assert written["profile"] == "sample" and written["seeds"] == [0, 1]
    assert written["train_runs"] == train_entries(load_config("sample", dest))
    # switching back costs nothing: DVC's run cache restores every smoke stage instead of running it again
    _run([sys.executable, "-m", "seqit_utils.config", "smoke"], dest, env)
    back = _run([sys.executable, "-m", "dvc", "repro"], dest, env)
    assert "Running stage" not in back and "is cached - skipping run" in back


def _check_ablation_runs(out: Path, runs: dict, seeds: list[int]) -> None:
    """Every run of the registry in Table 6/12 (the §5.1 runs and their like-for-like pair ablation_it, ablation_sit,
    all fine-tuning the IT model of their seed) trained on its own set and was evaluated, every seed of it, on
    ablations.eval_sets into its tables (per-seed values, mean and sd per set)."""
    evaluated = json.loads((out / "metrics/ablation_eval.json").read_text())
    ablation_tables = {"table_6", "table_12", "model_swaps"}
    tabled = {name: spec for name, spec in runs.items() if ablation_tables & set(spec["tables"])}
    section51 = {"ablation_it", "ablation_sit", "data_level", "instance_level_it", "instance_level_sit", "sit_split",
                 "sit_multi"}  # fmt: skip
    assert set(evaluated["runs"]) == set(tabled) >= section51
    assert set(evaluated["runs"]["data_level"]) == {"single", "two_step_seen", "two_step_unseen", "chain3"}
    for name, spec in tabled.items():
        trained = json.loads((out / f"metrics/train-{name}-0.json").read_text())
        assert (
            trained["global_step"] == (10 if spec.get("init") else 20) and trained["spec"]["tables"] == spec["tables"]
        )
        assert trained["base"].endswith("models/it-0") == (name in section51)  # `init: it`: from the IT model
        cell = evaluated["runs"][name]["two_step_seen"]
        assert cell["n"] == 20 and cell["seeds"] == spec.get("seeds", seeds)
        assert sorted(cell["per_seed"]) == sorted(map(str, cell["seeds"])) and cell["follow_all_sd"] >= 0
        per_seed = [cell["per_seed"][str(s)]["accuracy"] for s in cell["seeds"]]
        assert cell["accuracy"] == pytest.approx(sum(per_seed) / len(per_seed))
        for table in ablation_tables & set(spec["tables"]):
            assert f"| {name} | " in (out / "tables" / ablation_eval.FILE_NAMES[table]).read_text()
    sizes = json.loads((out / "metrics/ablations.json").read_text())
    assert evaluated["trained"]["data_level"]["train_examples"] == sizes["data_level"]["sit_records"]
    assert evaluated["trained"]["sit_multi"]["train_examples"] == sizes["sit_multi"]["records"]
    built = json.loads((out / "metrics/train_sets/seq_instruct_local.json").read_text())  # stage train_sets (11)
    assert built["endpoint"] == "local_base" and built["summary"]["iterations"][-1]["n"] == 26
    trained = json.loads((out / "metrics/train-seq_instruct_local-0.json").read_text())["source"]
    assert trained == {"train_file": "train_sets/seq_instruct_local.jsonl"}  # stage train read it: no LLM there


def _check_claims(out: Path) -> None:
    """Stage `claims`: one row per claim whose runs were evaluated (the contract's keys), the rest listed as not
    measured in claims.md."""
    claims = json.loads((out / "metrics/claims.json").read_text())
    keys = {"claim", "paper_ref", "paper_value", "mini_value", "mini_sd", "n", "seeds", "holds"}
    assert claims and all(keys <= set(row) for row in claims)
    rows = {row["claim"]: row for row in claims}
    contract = {"translate_sit_accuracy", "seq_instruct_sit_following", "data_level", "instance_level",
                "sit_split_vs_sit", "sit_multi_vs_sit", "chain_trained_3step_following"}  # fmt: skip
    assert contract <= set(rows) and rows["translate_sit_accuracy"]["seeds"] == [0, 1]
    assert rows["data_level"]["seeds"] == [0] and rows["data_level"]["reference"] == "ablation_it"  # seed 0 here
    assert rows["repeat_sit_following"]["n"] == 20 and rows["repeat_sit_following"]["seeds"] == [0, 1]
    assert rows["repeat_sit_following"]["paper_value"] == pytest.approx(0.68)  # Table 1: 95 − 27 points
    text = (out / "tables/claims.md").read_text()
    assert "| repeat_sit_following |" in text
    not_measured = json.loads((out / "metrics/claims.provenance.json").read_text())["not_measured"]
    assert all(f"`{item['claim']}`" in text.split("## Not measured")[1] for item in not_measured)


def _check_multimodal(out: Path) -> None:
    """Stage `multimodal`: a tiny InstructBLIP trained (IT on 36 synthetic questions, SIT on those + 36 caption-then-
    answer versions, 3 epochs) and evaluated in the four conditions of Table 3 on 12 VQAv2 and 12 GQA questions."""
    metrics = json.loads((out / "metrics/multimodal.json").read_text())
    assert metrics["training"]["it"]["train_examples"] == 36 and metrics["training"]["sit"]["train_examples"] == 72
    for condition in ("prompt", "it", "sit", "sit_neg"):
        for name in ("vqav2", "gqa"):
            cell = metrics[condition][name]
            assert cell["n"] == 12 and 0 <= cell["accuracy"] <= 1 and 0 <= cell["following"] <= 1
    rows = [json.loads(line) for line in (out / "generations/multimodal.jsonl").read_text().splitlines()]
    assert len(rows) == 4 * 2 * 12
    # SIT (neg.): each output starts with a caption of another VQAv2 image, forced before the model answers
    vqav2 = vqa_data.load_vqav2("val2014", data_dir=out / "multimodal" / "data", limit=12)
    captions = {r["id"]: set(r["captions"]) for r in vqav2}
    every = set().union(*captions.values())
    forced = {r["id"]: r["output"].split("\n")[0] for r in rows if r["condition"] == "sit_neg" and r["set"] == "vqav2"}
    assert len(forced) == 12 and all(forced[i] in every - captions[i] for i in forced)
    table = (out / "tables/table_3.md").read_text()
    assert "| SIT (neg.) | vqav2 | VQA accuracy |" in table and "| SIT | vqav2 | VQA accuracy |" in table
    assert "SIT ↔ paper row InstructBLIP-Vicuna-7B · SIT" in table  # the paper's numbers beside ours


@pytest.mark.timeout(1800)  # ~10 min on 2 idle cores; the suite's 900 s default is too close under load
def test_paper_dry_run_runs_the_paper_dag(tmp_path, shared_data):
    """`seqit dry-run`: the paper profile's own DAG (every stage, every run, every table) with tiny stand-ins;
    training sources not here get synthetic stand-ins in their published layouts, evaluation sets not here are left
    out by name."""
    from seqit_utils import dryrun

    summary = dryrun.run_dry(ROOT, tmp_path, items=2, steps=2, data_dir=str(shared_data))
    failed = {stage: state for stage, state in summary["stages"].items() if state != "ran"}
    assert summary["ok"] and not failed, (failed, (tmp_path / "dvc_repro.log").read_text()[-6000:])
    state = {r["run"]: r["dry_run"] for r in summary["runs"]}
    assert set(state.values()) == {"ran"}, state  # every run of the registry, Table 3's two included
    assert all(r["train_set"] and r["transform"] and r["base"] and r["tables"] for r in summary["runs"])
    assert set(summary["dropped_datasets"]) == {"xquad_ar", "xquad_hi", "xquad_th"}  # held out of shared data
    standins = {"alpaca_multilingual", "flancot", "tulu_v2", "metamath", "released flancot", "released tulu"}
    assert set(summary["synthetic_standins"]) == standins
    assert all(what.startswith("synthetic stand-in:") for what in summary["synthetic_standins"].values())
    built = tmp_path / "project" / "outputs" / "paper" / "metrics" / "train_sets"
    read = lambda run: json.loads((built / f"{run}.json").read_text())  # noqa: E731
    assert read("flancot_sit")["recipe"] == "released" and read("tulu_metamath_sit")["recipe"] == "regenerated"
    assert read("tulu_metamath_sit")["summary"]["options"]["B"] > 0  # the stand-in generator rewrote instructions
    assert read("sit_translate")["by_sit"]["translate"] > 0 and read("sit_cmdr")["endpoint"] == "command_r_plus"
    ablation = json.loads((built.parent / "ablations.json").read_text())  # §5.1 over Seq-Instruct SIT (the paper's)
    assert ablation["sit_set"].startswith("seq_instruct") and ablation["sit_split"]["records"] > 0
    tables = tmp_path / "project" / "outputs" / "paper" / "tables"
    table_2, table_5 = (tables / "table_2.md").read_text(), (tables / "table_5.md").read_text()
    assert "| ours | paper | Δ |" in table_2 and "| ours | paper | Δ |" in table_5
    assert "| IT | de | paper |" in table_2  # the row of Llama-3-8B Alpaca IT, whose de cell the paper prints as 44.3
    assert "| 44.3 |" in table_2 and "| SIT | gsm8k | lm-eval exact_match flexible |" in table_5
    mistral = json.loads((tmp_path / "project/outputs/paper/models/mistral_it-42/config.json").read_text())
    assert mistral["model_type"] == "mistral"
