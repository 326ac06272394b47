"""Rescore recorded XQuAD generations with the `paper` and `strict` metrics, and compare with the paper (Table 9).

Reads a folder in the authors' published layout (simonucl/Seq_IT `eval_results/<run>/`): `<run>_<kind>_xquad_<lang>
.jsonl` or `.jsonl.gz`, kind `base` (seen languages and the English reference) or `trans` (unseen ones), one JSON
object a line with `instruction`, `input`, `output`, `target`, `prompt`; line i is XQuAD question i in every file. The
English file of the same run is the gold reference: its `target` is the English gold and its `input` the English
text the translate-then-answer prompt asks for. Our own runs are rescored the same way once written in this layout
(`export_generations`). No GPU, no model: this checks any evaluation set-up against the paper.

`seqit rescore xquad DIR --metric paper --json OUT` writes `{lang: {"acc": %, "follow": %, "n": int}}`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from seqit_utils import io
from seqit_utils.evaluate import paper_metrics, scoring
from seqit_utils.tables import paper_numbers

METRICS = ("paper", "strict")
FILE_NAME = re.compile(r"^(?P<run>.+)_(?P<kind>base|trans)_xquad_(?P<lang>[a-z]{2})\.jsonl(?:\.gz)?$")
FIELDS = ("input", "output", "target")
# Recorded runs whose Table 9 row is known: run folder name -> the row's identifying fields.
KNOWN_RUNS = {
    "self-seq-Meta-Llama-3-8B-wizardlm": {"base_model": "Llama-3-8B", "dataset": "Alpaca", "method": "WizardLM"},
}
PAPER_YAML = Path(__file__).parents[1] / "paper" / "naacl2025_tables.yaml"  # as seqit_utils.tables.paper_numbers


def find_files(folder: str | Path, run: str | None = None) -> tuple[str, dict[str, Path]]:
    """(run name, {lang: file}) of the one run in `folder` (searched recursively), or of `run` when given."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder of recorded generations")
    runs: dict[str, dict[str, Path]] = {}
    for path in sorted(root.rglob("*_xquad_*.jsonl*")):
        found = FILE_NAME.match(path.name)
        if found and (run is None or found["run"] == run):
            runs.setdefault(found["run"], {})[found["lang"]] = path
    if not runs:
        wanted = f" of run {run!r}" if run else ""
        raise FileNotFoundError(f"{root}: no <run>_<base|trans>_xquad_<lang>.jsonl[.gz] files{wanted}")
    if len(runs) > 1:
        raise ValueError(f"{root} holds several runs ({', '.join(runs)}); pick one with --run")
    name, files = next(iter(runs.items()))
    if "en" not in files:
        raise FileNotFoundError(f"{root}: run {name!r} has no English file ({name}_base_xquad_en.jsonl), the gold")
    return name, files


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of one recorded file (gzip or plain); ValueError naming the file and line when malformed."""
    opener = gzip.open if path.suffix == ".gz" else open
    records, number = [], 0
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                record = json.loads(line)
                missing = [f for f in FIELDS if not isinstance(record.get(f), str)]
                if missing:
                    raise ValueError(f"{path}:{number}: field(s) {', '.join(missing)} missing or not a string")
                records.append(record)
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: unreadable ({err})") from err
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{number}: not a JSON object ({err.msg})") from err
    return records


def rescore_xquad(
    folder: str | Path,
    metric: str = "paper",
    *,
    run: str | None = None,
    paper_threshold: float = paper_metrics.XQUAD_FOLLOW_THRESHOLD,
    strict_threshold: float = 0.5,
) -> dict[str, dict[str, Any]]:
    """`{lang: {"acc": %, "follow": %, "n": int}}` of every language file of the run (English included).

    `paper`: `paper_accuracy` / `paper_follow_rate` of `scoring.score_xquad`; `strict`: `strict_accuracy` and
    `strict_follow_rate` (the translation part of each output against the English input). The English file's lines
    give every language its gold and English input; a file with another line count is an error naming it.
    """
    if metric not in METRICS:
        raise ValueError(f"metric = {metric!r} is not allowed; allowed values: {', '.join(METRICS)}")
    _, files = find_files(folder, run)
    english = read_records(files["en"])
    out = {}
    for lang, path in sorted(files.items(), key=lambda item: (item[0] != "en", item[0])):
        recorded = english if lang == "en" else read_records(path)
        if len(recorded) != len(english):
            raise ValueError(
                f"{path}: {len(recorded)} lines, but the English file {files['en'].name} has {len(english)}"
            )
        records = [
            {"answers": [r["target"]], "answers_en": [en["target"]]} for r, en in zip(recorded, english, strict=True)
        ]
        inputs = [en["input"] for en in english]
        outputs = [r["output"] for r in recorded]
        options = {"paper_threshold": paper_threshold, "strict_threshold": strict_threshold}
        if metric == "paper":  # the strict extraction is not needed: skip its segmentation cost
            hits = [paper_metrics.xquad_hit(o, r["answers_en"][0]) for o, r in zip(outputs, records, strict=True)]
            follows = [
                paper_metrics.xquad_followed(o, e, paper_threshold) for o, e in zip(outputs, inputs, strict=True)
            ]
            acc, follow = sum(hits) / len(hits), sum(follows) / len(follows)
        else:
            _, summary = scoring.score_xquad(outputs, records, references=inputs, **options)
            acc, follow = summary["strict_accuracy"], summary["strict_follow_rate"]
        out[lang] = {"acc": round(100 * acc, 3), "follow": round(100 * follow, 3), "n": len(outputs)}
    return out


def paper_row(run: str, paper_yaml: str | Path = PAPER_YAML) -> dict[str, float | None] | None:
    """The printed Table 9 values (`<lang>_acc`, `<lang>_follow`) of a known run; None for an unknown run."""
    fields = KNOWN_RUNS.get(run)
    if fields is None:
        return None
    tables = dict(paper_numbers.load_file(Path(paper_yaml), "naacl2025"))
    if "table_9" not in tables:
        raise ValueError(f"{paper_yaml}: no table_9")
    return dict(tables["table_9"].row(fields).values)


def markdown_table(results: Mapping[str, Mapping[str, Mapping[str, Any]]], paper: Mapping[str, Any] | None) -> str:
    """Rows: each metric's accuracy and following (%), the paper's printed cells and Δ (our `paper` − printed)."""
    langs = list(next(iter(results.values())))
    lines = ["| metric | " + " | ".join(f"{lang} acc | {lang} follow" for lang in langs) + " |"]
    lines.append("|---|" + "---|---|" * len(langs))
    for metric, by_lang in results.items():
        cells = [f"{by_lang[lang]['acc']:.1f} | {by_lang[lang]['follow']:.1f}" for lang in langs]
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    if paper is not None:
        printed = [paper.get(f"{lang}_{col}") for lang in langs for col in ("acc", "follow")]
        lines.append("| paper (printed) | " + " | ".join("–" if v is None else f"{v:.1f}" for v in printed) + " |")
        if "paper" in results:
            ours = [results["paper"][lang][col] for lang in langs for col in ("acc", "follow")]
            deltas = ["–" if p is None else f"{o - p:+.2f}" for o, p in zip(ours, printed, strict=True)]
            lines.append("| Δ paper metric − printed | " + " | ".join(deltas) + " |")
    return "\n".join(lines) + "\n"


def compare(
    folder: str | Path, *, run: str | None = None, paper_yaml: str | Path = PAPER_YAML
) -> tuple[dict[str, dict[str, dict[str, Any]]], str]:
    """Both metrics of a recorded run and the markdown table beside the paper's row (the notebook's rescore section):
    `({"paper": {lang: …}, "strict": {lang: …}}, table)`."""
    name, _ = find_files(folder, run)
    results = {metric: rescore_xquad(folder, metric, run=run) for metric in METRICS}
    return results, markdown_table(results, paper_row(name, paper_yaml))


def run_command(args: argparse.Namespace) -> int:
    """`seqit rescore xquad DIR ...` (see `add_command`)."""
    run, _ = find_files(args.folder, args.run)
    if args.table:
        results, table = compare(args.folder, run=args.run, paper_yaml=args.paper_yaml)
        result = results[args.metric]
    else:
        result = rescore_xquad(args.folder, args.metric, run=args.run)
    io.write_json(args.json, result)
    summary = ", ".join(f"{lang} {v['acc']:.1f}/{v['follow']:.1f}" for lang, v in result.items())
    print(f"{run} ({args.metric}; acc/follow %): {summary}")
    if args.table:
        io.write_text(args.table, table)
    print(f"wrote {args.json}" + (f" and {args.table}" if args.table else ""))
    return 0


def add_command(subparsers: Any) -> None:
    """`seqit rescore xquad DIR --metric paper|strict --json OUT [--run NAME] [--table OUT.md]`."""
    help_text = "score recorded XQuAD generations (the authors' layout) with the paper's or our strict metric"
    parser = subparsers.add_parser("rescore", help=help_text, description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark", choices=["xquad"])
    parser.add_argument("folder", metavar="DIR", help="folder holding <run>_<base|trans>_xquad_<lang>.jsonl[.gz]")
    parser.add_argument("--metric", choices=METRICS, default="paper")
    parser.add_argument("--json", required=True, type=Path, help="where to write {lang: {acc, follow, n}}")
    parser.add_argument("--run", default=None, help="the run to score when DIR holds several")
    parser.add_argument("--table", type=Path, default=None, help="also write a markdown table of both metrics")
    parser.add_argument("--paper-yaml", type=Path, default=PAPER_YAML, help="the paper's tables (Table 9 row)")
    parser.set_defaults(func=run_command)


def export_generations(
    rows: Sequence[Mapping[str, Any]], sets: Mapping[str, Sequence[Mapping[str, Any]]], folder: str | Path
) -> list[Path]:
    """Write our XQuAD generations in the authors' layout so `rescore_xquad` scores them exactly like theirs.

    `rows`: the generations file of notebook 06 (`evaluation.generation_records`: model, benchmark, setting, id,
    output); `sets`: the XQuAD prompt sets `{setting: records}` they were generated from. Per model, the
    `sit-prompt/<lang>` settings become `<model>_<base|trans>_xquad_<lang>.jsonl` (line i = the i-th English item,
    matched by `source_id`); `target` is the item's first gold answer, `input` the prompt's input, and the English
    file's `input` the English text the SIT prompt asks for (the translate step's gold). Needs the `en` setting.
    """
    from seqit_utils.evaluate.eval_sets import XQUAD_UNSEEN

    by_model: dict[str, dict[str, dict[str, str]]] = {}
    for row in rows:
        if row.get("benchmark", "xquad") == "xquad" and str(row["setting"]).startswith("sit-prompt/"):
            by_model.setdefault(row["model"], {}).setdefault(row["setting"], {})[row["id"]] = row["output"]
    english_text = {
        r.get("source_id", r["id"]): r["steps"][0]["output"]
        for records in sets.values()
        for r in records
        if r.get("steps") and r["steps"][0].get("task") == "translate"
    }
    written = []
    for model, settings in sorted(by_model.items()):
        if "sit-prompt/en" not in settings:
            raise ValueError(f"model {model}: no sit-prompt/en generations; evaluation.xquad.langs must include en")
        order = [r.get("source_id", r["id"]) for r in sets["sit-prompt/en"]]
        for setting, outputs in sorted(settings.items()):
            lang = setting.split("/")[1]
            records = {r.get("source_id", r["id"]): r for r in sets[setting]}
            missing = [sid for sid in order if sid not in records or records[sid]["id"] not in outputs]
            if missing:
                raise ValueError(
                    f"model {model}, {setting}: no generation for {len(missing)} items, e.g. {missing[0]}"
                )
            lines = []
            for sid in order:
                record = records[sid]
                english = english_text.get(sid, record["input"]) if lang == "en" else record["input"]
                lines.append({"instruction": record["instruction"], "input": english, "output": outputs[record["id"]],
                              "target": str(record["answers"][0]), "prompt": ""})  # fmt: skip
            kind = "trans" if lang in XQUAD_UNSEEN else "base"
            path = Path(folder) / f"{model}_{kind}_xquad_{lang}.jsonl"
            io.write_jsonl(path, lines)
            written.append(path)
    return written
