"""Every figure as a function of files under `outputs/<profile>/` (notebook 10, DVC stage `analysis`).

Figures go to `figures/<profile>_<name>.png` and `.pdf` (the profile in every file name, so a smoke figure is never
mistaken for a paper result; profiles share the folder), with `<profile>_figures.json` beside them: what each figure
was drawn from (counts, the parser, top verbs). Same inputs → byte-identical files (no timestamps;
`verb_noun.save_figure`).

- `sunburst_<set>`: verb-noun sunburst (§5.4, Figures 6/7) of each `analysis.instruction_sets` entry.
- `number_of_tasks`: Figure 2 / Table 13 — SeqEval following rate and judge score per number of tasks (iteration k
  of Seq-Instruct = k + 1 tasks), one line per model group, from notebook 04's `metrics/seqeval.json`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from statistics import mean
from typing import Any

from seqit_utils import experiment, io, loaders
from seqit_utils import verb_noun as vn
from seqit_utils.config import Config, data_dir

FIGURES = Path("figures")


def figure_dir(config: Config, root: str | Path = ".") -> Path:
    """`figures/` (every file name starts with the profile)."""
    return Path(root) / FIGURES


def instruction_texts(config: Config, source: str, root: str | Path = ".") -> list[str]:
    """The `instruction` fields of one `analysis.instruction_sets` source (see `AnalysisConfig`)."""
    if source.startswith("loader:"):
        name = source.removeprefix("loader:")
        loaders.check_option("loader", name, list(loaders.LOADERS))
        return [r["instruction"] for r in loaders.LOADERS[name](data_dir=data_dir(config))]
    path = experiment.profile_dir(config, root) / source
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (params: analysis.instruction_sets of {config.profile!r})")
    return [r["instruction"] for r in io.read_jsonl(path) if r.get("instruction")]


def sunbursts(config: Config, root: str | Path = ".", nlp: Any = None) -> dict[str, Any]:
    """One sunburst per instruction set; returns what each was drawn from (for `<profile>_figures.json`)."""
    spec = config.analysis
    nlp = nlp or vn.load_parser(parser=spec.parser)
    parser = vn.parser_info(nlp)
    out = {}
    for name, source in spec.instruction_sets.items():
        texts = instruction_texts(config, source, root)
        pairs = vn.verb_noun_pairs(texts, nlp)
        top = vn.top_pairs(pairs, spec.n_verbs, spec.n_nouns)
        stem = figure_dir(config, root) / f"{config.profile}_sunburst_{name}"
        title = (f"[{config.profile}] {name}: top {len(top)} verbs × {spec.n_nouns} nouns "
                 f"({len(texts)} instructions; {vn.parser_label(parser)})")  # fmt: skip
        files = vn.sunburst(top, title, stem)
        out[f"sunburst_{name}"] = {"source": source, **vn.summary(pairs, len(texts)), "top": top,
                                   "files": [p.name for p in files]}  # fmt: skip
    return {"parser": parser, "figures": out}


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


def number_of_tasks_figure(curve: Mapping[str, Mapping[int, Mapping[str, Any]]], title: str, stem: Path) -> list:
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
        if drawn:
            ax.legend()
        else:
            ax.text(0.5, 0.5, "no value: no judge verdict parsed", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(title)
    paths = [vn.save_figure(fig, stem.with_name(f"{stem.name}.{ext}")) for ext in ("png", "pdf")]
    plt.close(fig)
    return paths


def number_of_tasks(config: Config, root: str | Path = ".") -> dict[str, Any]:
    """Figure 2 from `metrics/seqeval.json` and `analysis.extra_seqeval_metrics` (their groups as "<label>/<group>");
    returns the plotted values."""
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
    title = (
        f"[{config.profile}] SeqEval by number of tasks ({metrics.get('benchmark')}, {metrics.get('n_items')} items)"
    )
    files = number_of_tasks_figure(curve, title, figure_dir(config, root) / f"{config.profile}_number_of_tasks")
    plain = {group: {str(n): v for n, v in points.items()} for group, points in curve.items()}
    return {"number_of_tasks": {"source": sources[0], "extra_sources": sources[1:], "curve": plain,
                                "files": [p.name for p in files]}}  # fmt: skip


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


def write_index(config: Config, content: Mapping[str, Any], root: str | Path = ".") -> Path:
    """`figures/<profile>_figures.json`: what every figure was drawn from."""
    return io.write_json(figure_dir(config, root) / f"{config.profile}_figures.json", dict(content))
