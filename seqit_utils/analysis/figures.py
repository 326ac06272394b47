"""Analysis results (notebook 10, stage `analysis`) and every figure drawn from them (stage `figures`).

Notebook 10 computes what the figures show and writes it under `outputs/<profile>/analysis/`:
- `verb_noun.json` (`verb_noun_analysis`): per `analysis.instruction_sets` entry, counts and the top verbs × nouns
  (§5.4, Figures 6/7), and which parser produced them;
- `number_of_tasks.json` (`number_of_tasks`): Figure 2 / Table 13 — SeqEval following rate and judge score per
  number of tasks (iteration k of Seq-Instruct = k + 1 tasks), one line per model group, from notebook 04's
  `metrics/seqeval.json` and any `analysis.extra_seqeval_metrics`;
- `number_of_tasks_suite.json` (`suite_curve.number_of_tasks_suite`): the same direction on the task suite, judged by
  ground truth — following and accuracy per number of tasks 1-5, per run, mean ± sd over seeds (notebook 06's
  `metrics/miniature.json`).

`draw_all` (`python -m seqit_utils.analysis.figures <profile>`, DVC stage `figures`) reads only those files and draws
every
figure into `figures/<profile>_<name>.png` and `.pdf` (the profile in every file name, so a smoke figure is never
mistaken for a paper result; profiles share the folder), with `<profile>_figures.json` beside them: what each figure
was drawn from. Same inputs → byte-identical files (no timestamps; `verb_noun.save_figure`), so deleting `figures/`
and running `dvc repro` draws them again without parsing anything.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from statistics import mean
from typing import Any

from seqit_utils import io
from seqit_utils.analysis import suite_curve
from seqit_utils.analysis import verb_noun as vn
from seqit_utils.config import Config, data_dir, find_project_root, load_config
from seqit_utils.data import loaders, schema
from seqit_utils.train import experiment

FIGURES = Path("figures")


def figure_dir(config: Config, root: str | Path = ".") -> Path:
    """`figures/` (every file name starts with the profile)."""
    return Path(root) / FIGURES


def instruction_texts(config: Config, source: str, root: str | Path = ".") -> list[str]:
    """The `instruction` fields of one `analysis.instruction_sets` source (see `AnalysisConfig`)."""
    if source.startswith("loader:"):
        name = source.removeprefix("loader:")
        schema.check_option("loader", name, list(loaders.LOADERS))
        return [r["instruction"] for r in loaders.LOADERS[name](data_dir=data_dir(config))]
    path = experiment.profile_dir(config, root) / source
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (params: analysis.instruction_sets of {config.profile!r})")
    return [r["instruction"] for r in io.read_jsonl(path) if r.get("instruction")]


def analysis_dir(config: Config, root: str | Path = ".") -> Path:
    """`outputs/<profile>/analysis/`: what the figures are drawn from."""
    return experiment.profile_dir(config, root) / "analysis"


def verb_noun_analysis(config: Config, root: str | Path = ".", nlp: Any = None) -> dict[str, Any]:
    """Per instruction set: its source, counts (`verb_noun.summary`) and top verbs × nouns; and the parser."""
    spec = config.analysis
    nlp = nlp or vn.load_parser(parser=spec.parser)
    sets = {}
    for name, source in spec.instruction_sets.items():
        texts = instruction_texts(config, source, root)
        pairs = vn.verb_noun_pairs(texts, nlp)
        top = vn.top_pairs(pairs, spec.n_verbs, spec.n_nouns)
        sets[name] = {"source": source, **vn.summary(pairs, len(texts)), "top": top}
    return {"parser": vn.parser_info(nlp), "n_verbs": spec.n_verbs, "n_nouns": spec.n_nouns, "sets": sets}


def sunburst_title(profile: str, name: str, entry: Mapping[str, Any], analysis: Mapping[str, Any]) -> str:
    """A sunburst's title: "[profile] set: top 15 verbs × 4 nouns (N instructions; parser)"."""
    return (f"[{profile}] {name}: top {len(entry['top'])} verbs × {analysis['n_nouns']} nouns "
            f"({entry['instructions']} instructions; {vn.parser_label(analysis['parser'])})")  # fmt: skip


def tasks_curve(seqeval_metrics: Mapping[str, Any]) -> dict[str, dict[int, dict[str, float | None]]]:
    """`{group: {number of tasks: {"follow_rate", "score", "n"}}}` from notebook 04's metrics: means over seeds of
    the judged items of each Seq-Instruct iteration k (k + 1 tasks); None where no verdict parsed."""
    out: dict[str, dict[int, dict[str, float | None]]] = {}
    for group, by_seed in (seqeval_metrics.get("by_iteration") or {}).items():
        iterations = sorted({int(k) for per_seed in by_seed.values() for k in per_seed if str(k).isdigit()})
        for k in iterations:
            cells = [per_seed.get(str(k)) or {} for per_seed in by_seed.values()]
            values = {m: [c[m] for c in cells if c.get(m) is not None] for m in ("follow_rate", "score")}
            point = {m: mean(v) if len(v) == len(cells) else None for m, v in values.items()}
            out.setdefault(group, {})[k + 1] = {**point, "n": sum(c.get("n", 0) for c in cells)}
    return out


def number_of_tasks_figure(curve: Mapping[str, Mapping[int, Mapping[str, Any]]], title: str) -> Any:
    """Figure 2: following rate (%) and judge score (1–5) against the number of tasks, one line per group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    panels = (("follow_rate", "following rate (%)", 100.0, (0, 100)), ("score", "judge score (1–5)", 1.0, (1, 5)))
    for ax, (metric, label, scale, limits) in zip(axes, panels, strict=True):
        drawn = False
        for group, points in sorted(curve.items()):
            xs = [n for n in sorted(points) if points[n][metric] is not None]
            if xs:
                ax.plot(xs, [points[n][metric] * scale for n in xs], marker="o", label=group)
                drawn = True
        ticks = sorted({n for points in curve.values() for n in points})
        ax.set(xlabel="number of tasks", ylabel=label, ylim=limits, xticks=ticks)
        if ticks:
            ax.set_xlim(ticks[0] - 0.5, ticks[-1] + 0.5)
        if drawn:
            ax.legend()
        else:
            ax.text(0.5, 0.5, "no value: no judge verdict parsed", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(title)
    return fig


def number_of_tasks(config: Config, root: str | Path = ".") -> dict[str, Any]:
    """Figure 2's values from `metrics/seqeval.json` and `analysis.extra_seqeval_metrics` (their groups as
    "<label>/<group>"): `{"sources", "benchmark", "n_items", "curve": {group: {"<tasks>": point}}}`."""
    metrics_path = experiment.profile_dir(config, root) / "metrics" / "seqeval.json"
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    curve, sources = tasks_curve(metrics), [str(metrics_path.relative_to(root))]
    for label, path in config.analysis.extra_seqeval_metrics.items():
        extra = Path(root) / path
        if not extra.is_file():
            raise FileNotFoundError(f"{extra}: no such file (params: analysis.extra_seqeval_metrics.{label})")
        extra_curve = tasks_curve(json.loads(extra.read_text(encoding="utf-8")))
        curve |= {f"{label}/{group}": points for group, points in extra_curve.items()}
        sources.append(path)
    plain = {group: {str(n): v for n, v in points.items()} for group, points in curve.items()}
    return {"sources": sources, "benchmark": metrics.get("benchmark"), "n_items": metrics.get("n_items"),
            "curve": plain}  # fmt: skip


def number_of_tasks_title(profile: str, tasks: Mapping[str, Any]) -> str:
    """Figure 2's title: the profile, the SeqEval benchmark judged and its size."""
    return f"[{profile}] SeqEval by number of tasks ({tasks['benchmark']}, {tasks['n_items']} items)"


def as_curve(plain: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[int, dict[str, Any]]]:
    """`number_of_tasks`' JSON curve with integer task counts again."""
    return {group: {int(n): point for n, point in points.items()} for group, points in plain.items()}


def case_study(
    generations: list[dict[str, Any]], records: Mapping[str, dict[str, Any]], items: int | list[str], seed: int = 0
) -> str:
    """App. E: SeqEval items side by side, IT vs SIT (seed `seed`'s models), with the judge's verdicts, as markdown.
    `items`: the first N judged items, or the ids to show (in that order; an id that was not judged is an error)."""
    by_item: dict[str, dict[str, dict[str, Any]]] = {}
    for row in generations:
        if row.get("seed") == seed:
            by_item.setdefault(str(row["id"]), {})[row["model"]] = row
    if isinstance(items, int):
        chosen = list(by_item)[:items]
    else:
        unknown = [item for item in items if item not in by_item]
        if unknown:
            examples = ", ".join(list(by_item)[:3])
            raise ValueError(
                f"analysis.case_study_items: {', '.join(map(repr, unknown))} not among the {len(by_item)} SeqEval "
                f"items judged for seed {seed} (e.g. {examples})"
            )
        chosen = list(items)
    lines = [f"# Case study: SeqEval items, IT vs SIT (seed {seed})", ""]
    for item_id in chosen:
        record = records.get(item_id, {})
        lines += [f"## {item_id} (iteration {record.get('iteration', '?')})", "", "**Instruction**", "",
                  _quote(record.get("instruction", "")), ""]  # fmt: skip
        for model in ("it", "sit"):
            row = by_item[item_id].get(model)
            if row is None:
                continue
            verdict = (
                "unparseable" if row.get("answered") is None else f"answered={row['answered']}, rating={row['rating']}"
            )
            lines += [f"**{model.upper()}** (judge: {verdict})", "", _quote(row.get("output") or "(empty)"), ""]
    return "\n".join(lines)


def case_study_records(config: Config, root: str | Path = ".") -> dict[str, dict[str, Any]]:
    """The SeqEval items notebook 04 judged, by id: the published benchmark's data-stage file
    (`seqeval.benchmark`), else our construction (`seqeval/constructed.jsonl`)."""
    out = experiment.profile_dir(config, root)
    benchmark = config.seqeval.benchmark if config.seqeval else None
    path = out / "data" / f"{benchmark}.jsonl" if benchmark else out / "seqeval" / "constructed.jsonl"
    return {str(r["id"]): r for r in io.read_jsonl(path)}


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" for line in str(text).splitlines() or [""])


def png_bytes(fig: Any) -> bytes:
    """A figure as PNG bytes, then closed (for showing it in a notebook without writing a file)."""
    import io as bytes_io

    import matplotlib.pyplot as plt

    buffer = bytes_io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


ANALYSIS_FILES = ("verb_noun.json", "number_of_tasks.json")


def write_analysis(
    config: Config,
    verb_noun: Mapping[str, Any],
    tasks: Mapping[str, Any],
    root: str | Path = ".",
    suite: Mapping[str, Any] | None = None,
) -> list:
    """Notebook 10's results, `analysis/verb_noun.json`, `analysis/number_of_tasks.json` and, when given, the task
    suite's curve `analysis/number_of_tasks_suite.json`."""
    folder = analysis_dir(config, root)
    pairs = [*zip(ANALYSIS_FILES, (verb_noun, tasks), strict=True)]
    pairs += [(suite_curve.FILE_NAME, suite)] if suite is not None else []
    return [io.write_json(folder / name, dict(content)) for name, content in pairs]


def draw_all(config: Config, root: str | Path = ".") -> dict[str, Any]:
    """Every figure of the profile from `outputs/<profile>/analysis/` into `figures/`: the sunbursts, Figure 2, its
    task-suite version (when notebook 10 wrote it) and the index `<profile>_figures.json`; then the profile's files
    this run did not write go (a figure whose set left params does not linger; a failed run leaves the old ones).
    Returns the index."""
    folder = analysis_dir(config, root)
    missing = [name for name in ANALYSIS_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder}: {', '.join(missing)} missing; run notebook 10 first (`dvc repro analysis`)"
        )
    verb_noun, tasks = (json.loads((folder / name).read_text(encoding="utf-8")) for name in ANALYSIS_FILES)
    out = figure_dir(config, root)
    index: dict[str, Any] = {"profile": config.profile, "parser": verb_noun["parser"]}
    for name, entry in verb_noun["sets"].items():
        title = sunburst_title(config.profile, name, entry, verb_noun)
        files = vn.sunburst(entry["top"], title, out / f"{config.profile}_sunburst_{name}")
        index[f"sunburst_{name}"] = {**entry, "files": [p.name for p in files]}
    fig = number_of_tasks_figure(as_curve(tasks["curve"]), number_of_tasks_title(config.profile, tasks))
    files = vn.save_figures(fig, out / f"{config.profile}_number_of_tasks")
    index["number_of_tasks"] = {**tasks, "files": [p.name for p in files]}
    if (folder / suite_curve.FILE_NAME).is_file():  # written by notebook 10 from notebook 06's miniature.json
        suite = json.loads((folder / suite_curve.FILE_NAME).read_text(encoding="utf-8"))
        index["number_of_tasks_suite"] = suite_curve.draw(config.profile, suite, out)
    written = {io.write_json(out / f"{config.profile}_figures.json", index).name, *figure_files(index)}
    for stale in set(out.glob(f"{config.profile}_*")) - {out / name for name in written}:
        stale.unlink()
    return index


def figure_files(index: Mapping[str, Any]) -> list[str]:
    """The figure file names an index (`draw_all`) lists."""
    return [name for entry in index.values() if isinstance(entry, dict) for name in entry.get("files", [])]


def add_command(subparsers: Any) -> None:
    """`seqit figures PROFILE`."""
    help_text = "draw every figure of a profile from its analysis files (DVC stage figures)"
    parser = subparsers.add_parser("figures", help=help_text, description=help_text)
    parser.add_argument("profile", help="smoke | sample | paper: which params/<profile>.yaml")
    parser.set_defaults(func=_draw)


def main(argv: list[str] | None = None) -> int:
    """`python -m seqit_utils.analysis.figures PROFILE`: draw every figure of PROFILE (DVC stage `figures`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", help="smoke | sample | paper: which params/<profile>.yaml")
    return _draw(parser.parse_args(argv))


def _draw(args: argparse.Namespace) -> int:
    root = find_project_root()
    index = draw_all(load_config(args.profile, root), root)
    print(f"wrote {len(figure_files(index))} figure files and {args.profile}_figures.json into {FIGURES}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
