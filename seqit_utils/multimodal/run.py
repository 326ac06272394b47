"""Notebook 07's run of §4.1.2 / Table 3 on a profile: data, the IT and SIT training sets, the two Q-Former
trainings and the four evaluation conditions (prompt, IT, SIT, SIT with a wrong caption forced).

Files under `outputs/<profile>/multimodal/`: `data/` (synthetic profiles), `base/` (a tiny base), `models/{it,sit}/`;
checkpoints under `outputs/<profile>/checkpoints/multimodal-<variant>-<key>/` (resumable).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from seqit_utils import io
from seqit_utils.config import Config
from seqit_utils.multimodal import model as multimodal
from seqit_utils.multimodal import vqa_data, vqa_eval, vqa_synthetic
from seqit_utils.train import experiment

CONDITIONS = ("prompt", "it", "sit", "sit_neg")  # Table 3's rows


def load_sets(config: Config, root: str | Path = ".") -> tuple[dict[str, list[dict[str, Any]]], dict[str, Path]]:
    """VQAv2 train (with COCO captions), VQAv2 val and GQA test-dev records of the profile, and the image folder of
    each set. `synthetic` writes its dataset to `outputs/<profile>/multimodal/data/` first (deterministic)."""
    from seqit_utils.config import data_dir as env_data_dir

    data = config.multimodal.data
    if data.source == "synthetic":
        paths = vqa_synthetic.make_synthetic(
            experiment.profile_dir(config, root) / "multimodal" / "data", **data.synthetic
        )
        folder, images = paths["data_dir"], dict.fromkeys(("train", "vqav2", "gqa"), paths["images"])
    else:
        folder = data.data_dir or env_data_dir(config)
        if folder is None:
            raise FileNotFoundError(
                "multimodal.data.source 'files' reads vqav2/, coco/ and gqa/ from multimodal.data.data_dir or "
                "$SEQIT_DATA_DIR; set one of them (the files: https://visualqa.org/download.html, "
                "https://cocodataset.org/#download, https://cs.stanford.edu/people/dorarad/gqa/download.html)"
            )
        folder = Path(folder)
        images = {"train": folder / "coco", "vqav2": folder / "coco", "gqa": folder / "gqa" / "images"}
    sets = {
        "train": vqa_data.load_vqav2("train2014", data_dir=folder, limit=data.train_limit),
        "vqav2": vqa_data.load_vqav2("val2014", data_dir=folder, limit=data.eval_limit),
        "gqa": vqa_data.load_gqa(data_dir=folder, limit=data.eval_limit),
    }
    return sets, images


def training_sets(records: Sequence[dict[str, Any]], seed: int) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """IT (§4.1.2 IT instruction) and SIT (those + caption-then-answer versions) on the questions whose image has a
    caption; returns the sets and how many questions were left out for having none."""
    from seqit_utils.sit import manual as sit

    captioned = [r for r in records if r.get("caption")]
    sets = {"it": sit.caption_it(captioned), "sit": sit.build_sit_dataset(captioned, "caption", seed=seed)}
    return sets, len(records) - len(captioned)


def condition_records(records: Sequence[dict[str, Any]], condition: str) -> list[dict[str, Any]]:
    """The records with the condition's instruction: IT's for `it`, the sequential one for the others (`prompt`
    asks the untuned base model to caption, then answer)."""
    from seqit_utils.sit import manual as sit
    from seqit_utils.sit import manual_records

    instruction = sit.CAPTION_IT_INSTRUCTION
    if condition != "it":
        instruction = manual_records.sequential_instruction([sit.CAPTION_CLAUSE], sit.CAPTION_IT_INSTRUCTION)
    return [{**r, "instruction": instruction} for r in records]


def caption_pool(records: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """(image file name, caption) of every caption of `records` (the negative captions' source)."""
    return [(r["image"], c) for r in records for c in r.get("captions") or []]


def negative_captions(records: Sequence[dict[str, Any]], pool: Sequence[tuple[str, str]], seed: int) -> list[str]:
    """For each record, a caption of another image drawn from `pool` (seeded): SIT (neg.)'s forced intermediate."""
    rng = random.Random(seed)
    out = []
    for record in records:
        others = [caption for image, caption in pool if image != record["image"]]
        if not others:
            raise ValueError(f"record {record['id']!r}: no caption of another image to force (pool of {len(pool)})")
        out.append(others[rng.randrange(len(others))])
    return out


def checkpoint_dir(
    config: Config, variant: str, base: str | Path, records: Sequence[dict], root: str | Path = "."
) -> Path:
    """Where a variant's checkpoints live (outside DVC's outs, so a killed run resumes), keyed by the base model's
    content (a rebuilt tiny base with other weights never resumes stale checkpoints), the training settings and the
    records."""
    folder = Path(base)
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    base_key = [[str(p.relative_to(folder)), io.file_sha256(p)] for p in files] if files else str(base)
    key = io.stable_hash({"base": base_key, "train": config.multimodal.train.model_dump(mode="json"),
                          "template": config.multimodal.prompt_template, "records": list(records)})  # fmt: skip
    return experiment.profile_dir(config, root) / "checkpoints" / f"multimodal-{variant}-{key[:10]}"


def image_reader(folder: str | Path) -> Callable[[str], Any]:
    """file name -> PIL image from `folder` (opened when called)."""
    return lambda file_name: vqa_data.load_image(folder, file_name)


def base_model(config: Config, train_set: Sequence[dict[str, Any]], root: str | Path = ".") -> str:
    """`multimodal.model`, or a tiny InstructBLIP built into `multimodal/base/` (its tokenizer and text warm-up from
    `train_set`, the SIT set: IT + SIT texts)."""
    mm = config.multimodal
    if mm.model != "tiny":
        return mm.model
    folder = experiment.profile_dir(config, root) / "multimodal" / "base"
    with io.atomic_dir(folder) as tmp:
        multimodal.build_tiny(train_set, tmp, seed=mm.seed, template=mm.prompt_template, **mm.tiny.model_dump())
    return str(folder)


def train_variants(
    config: Config, sets: dict[str, list[dict]], images: Callable[[str], Any], base: str, root: str | Path = "."
) -> dict[str, dict[str, Any]]:
    """Q-Former training of the IT and the SIT model (`multimodal/models/<variant>/`); their summaries."""
    mm = config.multimodal
    summaries = {}
    for variant in ("it", "sit"):
        summaries[variant] = multimodal.train(
            base, sets[variant], images, checkpoint_dir(config, variant, base, sets[variant], root),
            template=mm.prompt_template, seed=mm.seed, final_dir=model_dir(config, variant, root),
            **mm.train.model_dump(),
        )  # fmt: skip
    return summaries


def model_dir(config: Config, variant: str, root: str | Path = ".") -> Path:
    return experiment.profile_dir(config, root) / "multimodal" / "models" / variant


def evaluate(
    config: Config, sets: dict[str, list[dict]], image_dirs: dict[str, Path], base: str, root: str | Path = "."
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Every condition on VQAv2 and GQA: `{condition: {set: {n, accuracy, following}}}` and one generation record
    per item (output, extracted answer, gold, accuracy). SIT (neg.) forces a caption of another VQAv2 image."""
    mm = config.multimodal
    models = {"prompt": base, "it": model_dir(config, "it", root), "sit": model_dir(config, "sit", root)}
    models["sit_neg"] = models["sit"]
    pool = caption_pool(sets["vqav2"])
    results: dict[str, dict[str, Any]] = {}
    generations: list[dict[str, Any]] = []
    for condition in CONDITIONS:
        model, processor = multimodal.load(models[condition], bf16=mm.train.bf16)
        results[condition] = {}
        for name in ("vqav2", "gqa"):
            records = condition_records(sets[name], condition)
            forced = None
            if condition == "sit_neg":
                forced = [caption + "\n" for caption in negative_captions(records, pool, seed=mm.seed)]
            outputs = multimodal.generate(
                model, processor, records, image_reader(image_dirs[name]), template=mm.prompt_template,
                max_new_tokens=mm.max_new_tokens, prefixes=forced,
            )  # fmt: skip
            report = vqa_eval.score_vqa(outputs, records, mm.vqa_accuracy)
            results[condition][name] = {key: report[key] for key in ("n", "accuracy", "following")}
            generations += [
                {"condition": condition, "set": name, "id": r["id"], "output": o, "answer": vqa_eval.extract_answer(o),
                 "gold": r.get("answers") or r.get("answer"), "accuracy": a}
                for r, o, a in zip(records, outputs, report["per_item"], strict=True)
            ]  # fmt: skip
    return results, generations
