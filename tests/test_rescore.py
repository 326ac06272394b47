"""`seqit rescore`: the `paper` metric reproduces the printed Table 9 cells from the authors' recorded generations."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqit_utils import cli
from seqit_utils.evaluate import rescore

RUN = "self-seq-Meta-Llama-3-8B-wizardlm"


@pytest.fixture(scope="session")
def released(shared_data: Path) -> Path:
    """`../shared/seq_it_released/xquad` (beside the shared data folder): the authors' recorded Table 9 run."""
    folder = shared_data.parent / "seq_it_released" / "xquad"
    if not (folder / RUN).is_dir():
        pytest.skip(f"the authors' recorded generations are not at {folder / RUN}")
    return folder


@pytest.fixture(scope="module")
def paper_scores(released: Path) -> dict:
    return rescore.rescore_xquad(released, "paper")


def _small_copy(released: Path, folder: Path, lines: int = 30, langs=("en", "de", "vi")) -> Path:
    """The first `lines` lines of some of the run's files, in the same layout (the test's own fixture)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted((released / RUN).glob("*.jsonl.gz")):
        if rescore.FILE_NAME.match(path.name)["lang"] in langs:
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                head = [next(handle) for _ in range(lines)]
            (folder / path.name.removesuffix(".gz")).write_text("".join(head), encoding="utf-8")
    return folder


def test_paper_metric_reproduces_every_printed_table_9_cell(paper_scores):
    printed = rescore.paper_row(RUN)
    assert sorted(paper_scores) == ["de", "en", "es", "tr", "vi", "zh"]
    for lang, scores in paper_scores.items():
        assert scores["n"] == 1190
        if lang == "en":  # Table 9 has no English column
            continue
        assert abs(scores["acc"] - printed[f"{lang}_acc"]) <= 0.15, (lang, scores, printed[f"{lang}_acc"])
        assert abs(scores["follow"] - printed[f"{lang}_follow"]) <= 0.6, (lang, scores, printed[f"{lang}_follow"])


def test_strict_metric_has_the_same_keys_and_never_counts_an_empty_answer(released, tmp_path):
    folder = _small_copy(released, tmp_path / "run")
    strict = rescore.rescore_xquad(folder, "strict")
    paper = rescore.rescore_xquad(folder, "paper")
    assert set(strict) == set(paper) == {"en", "de", "vi"}
    assert all(set(v) == {"acc", "follow", "n"} and v["n"] == 30 for v in strict.values())
    blank = tmp_path / "blank"
    blank.mkdir()
    rows = [json.loads(line) for line in (folder / f"{RUN}_base_xquad_en.jsonl").read_text().splitlines()]
    for name in (f"{RUN}_base_xquad_en.jsonl", f"{RUN}_base_xquad_de.jsonl"):
        (blank / name).write_text("".join(json.dumps({**r, "output": ""}) + "\n" for r in rows), encoding="utf-8")
    # The authors' rule counts an empty prediction as a hit (it is a substring of the gold); strict never does.
    assert rescore.rescore_xquad(blank, "paper")["de"]["acc"] == 100.0
    assert rescore.rescore_xquad(blank, "strict")["de"]["acc"] == 0.0


def test_cli_writes_the_contract_json_and_the_table(released, tmp_path):
    folder = _small_copy(released, tmp_path / "run")
    out, table = tmp_path / "paper.json", tmp_path / "table.md"
    code = cli.main(["rescore", "xquad", str(folder), "--metric", "paper", "--json", str(out), "--table", str(table)])
    assert code == 0
    written = json.loads(out.read_text())
    assert written == rescore.rescore_xquad(folder, "paper")
    text = table.read_text()
    assert "| paper (printed) |" in text and "| strict |" in text and "| 51.0 | 15.0 |" in text


def test_cli_fails_naming_the_file_with_another_line_count_or_unreadable(released, tmp_path, capsys):
    folder = _small_copy(released, tmp_path / "run")
    short = folder / f"{RUN}_trans_xquad_vi.jsonl"
    short.write_text("".join(short.read_text().splitlines(keepends=True)[:-1]), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    seqit = Path(sys.executable).parent / "seqit"
    done = subprocess.run(
        [str(seqit), "rescore", "xquad", str(folder), "--json", str(tmp_path / "x.json")],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and short.name in done.stderr and "29 lines" in done.stderr
    short.unlink()
    (folder / f"{RUN}_base_xquad_de.jsonl.gz").write_bytes(b"not gzip")
    (folder / f"{RUN}_base_xquad_de.jsonl").unlink()
    code = cli.main(["rescore", "xquad", str(folder), "--json", str(tmp_path / "y.json")])
    assert code == 1 and not (tmp_path / "y.json").exists()
    assert f"{RUN}_base_xquad_de.jsonl.gz: unreadable" in capsys.readouterr().err


def test_unknown_run_has_no_paper_row_and_several_runs_need_run(released, tmp_path):
    assert rescore.paper_row("someone-else") is None
    folder = _small_copy(released, tmp_path / "run", lines=3, langs=("en",))
    other = folder / "other_base_xquad_en.jsonl"
    other.write_text((folder / f"{RUN}_base_xquad_en.jsonl").read_text(), encoding="utf-8")
    with pytest.raises(ValueError, match="several runs"):
        rescore.find_files(folder)
    assert rescore.rescore_xquad(folder, "paper", run="other")["en"]["n"] == 3


def test_our_generations_exported_in_the_authors_layout_rescore_like_theirs(shared_data, tmp_path):
    from seqit_utils.evaluate import eval_sets

    sets = {}
    for lang in ("en", "de", "vi"):
        sets[f"sit-prompt/{lang}"] = eval_sets.xquad_sets(lang, data_dir=shared_data, limit=6)["sit"]

    def gold(record):  # translate, then answer in English, as the SIT prompt asks
        translation = "" if record["lang"] == "en" else record["steps"][0]["output"] + "\n"
        return f"{translation}Answer: {record['answers_en'][0]}"

    rows = [
        {"model": model, "benchmark": "xquad", "setting": setting, "id": r["id"], "output": output(r)}
        for setting, records in sets.items()
        for r in records
        for model, output in (("good", gold), ("bare", lambda r: "Answer: no idea"))
    ]
    written = rescore.export_generations(rows, sets, tmp_path)
    assert sorted(p.name for p in written)[:3] == [
        "bare_base_xquad_de.jsonl",
        "bare_base_xquad_en.jsonl",
        "bare_trans_xquad_vi.jsonl",
    ]
    for metric in rescore.METRICS:
        good = rescore.rescore_xquad(tmp_path, metric, run="good")
        bare = rescore.rescore_xquad(tmp_path, metric, run="bare")
        assert all(good[lang]["acc"] == 100.0 and bare[lang]["acc"] == 0.0 for lang in good), (metric, good, bare)
        assert good["de"]["follow"] == good["vi"]["follow"] == 100.0 and bare["de"]["follow"] == 0.0, metric
    with pytest.raises(ValueError, match="must include en"):
        rescore.export_generations([r for r in rows if not r["setting"].endswith("/en")], sets, tmp_path / "x")
