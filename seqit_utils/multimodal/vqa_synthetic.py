"""A synthetic stand-in for VQAv2 + COCO captions + GQA test-dev (§4.1.2) in their published formats: drawn shapes.

No VQAv2/COCO/GQA file is in the shared data, so the CPU profiles and the tests train and evaluate a tiny InstructBLIP
on this; `seqit_utils.multimodal.vqa_data` reads it with the same readers as the real files.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seqit_utils.io import atomic_dir
from seqit_utils.multimodal.vqa_data import GQA_FILE, VQAV2_SPLITS, pil_module, vqav2_filenames

logger = logging.getLogger(__name__)

SHAPES = ("circle", "square", "triangle")
COLORS = {"red": (220, 40, 40), "green": (40, 170, 70), "blue": (40, 90, 220), "yellow": (240, 210, 40)}
COLORS |= {"purple": (140, 60, 180), "orange": (245, 140, 30)}
BACKGROUNDS = {**COLORS, "white": (245, 245, 245), "black": (20, 20, 20), "gray": (128, 128, 128)}
NUMBER_WORDS = ("zero", "one", "two", "three")
_OWN_ENTRIES = {"vqav2", "coco", "gqa", "images"}


def make_synthetic(
    out_dir: str | Path,
    *,
    n_images: int = 24,
    questions_per_image: int = 3,
    seed: int,
    splits: Sequence[str] = VQAV2_SPLITS,
    image_size: int = 64,
) -> dict[str, Path]:
    """Write a small VQAv2 + COCO captions + GQA test-dev dataset in the published formats; same seed, same bytes.

    Per split, `n_images` JPEGs of 1-3 distinct shapes in distinct colours on a background of another colour, each
    with 2-5 captions and `questions_per_image` (1-6) questions of 10 annotator answers (up to 3 of them noisy:
    "Red", "red.", "two" for "2", or wrong). GQA questions (no counting, as in GQA) use the last split's images; their
    imageId is the COCO file stem, so both formats share one JPEG. Layout: vqav2/, coco/, gqa/ as under
    $SEQIT_DATA_DIR (`load_vqav2(split, data_dir=out_dir)` reads it) and images/. `out_dir` is replaced as a whole;
    a folder holding anything else is refused. Returns the paths written: data_dir, images, questions_<split>,
    annotations_<split>, captions_<split>, gqa_testdev.
    """
    if isinstance(n_images, bool) or not isinstance(n_images, int) or n_images < 1:
        raise ValueError(f"n_images={n_images!r} is not allowed; allowed values: an int >= 1")
    if isinstance(questions_per_image, bool) or questions_per_image not in range(1, 7):
        raise ValueError(f"questions_per_image={questions_per_image!r} is not allowed; allowed values: 1-6")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 32:
        raise ValueError(f"image_size={image_size!r} is not allowed; allowed values: an int >= 32")
    if isinstance(splits, str) or not splits or len(set(splits)) < len(splits) or set(splits) - set(VQAV2_SPLITS):
        raise ValueError(f"splits={splits!r} is not allowed; allowed values: distinct names from {VQAV2_SPLITS}")
    out = Path(out_dir)
    foreign = sorted(p.name for p in out.iterdir() if p.name not in _OWN_ENTRIES) if out.is_dir() else []
    if foreign:
        raise ValueError(
            f"out_dir {out} holds other files ({', '.join(foreign[:5])}); make_synthetic replaces it whole"
        )
    rng, image_module = random.Random(seed), pil_module()
    image_ids = rng.sample(range(1, 600_000), n_images * len(splits))  # COCO-like ids, unique across splits
    paths = {"data_dir": out, "images": out / "images"}
    with atomic_dir(out) as tmp:
        (tmp / "images").mkdir()
        for k, split in enumerate(splits):
            scenes = [_scene(image_id, split, rng) for image_id in image_ids[k * n_images : (k + 1) * n_images]]
            for scene in scenes:
                _draw(scene, image_size, rng, image_module).save(
                    tmp / "images" / scene["file_name"], "JPEG", quality=95
                )
            files = _vqav2_files(scenes, split, questions_per_image, image_size, rng)
            for role, (dataset, filename) in vqav2_filenames(split).items():
                _write_json(tmp / dataset / filename, files[role])
                paths[f"{role}_{split}"] = out / dataset / filename
        _write_json(tmp / "gqa" / GQA_FILE, _gqa_questions(scenes, questions_per_image, rng))
        paths["gqa_testdev"] = out / "gqa" / GQA_FILE
    logger.info(
        "synthetic VQAv2/COCO/GQA (%s, %d images each, seed %d) written to %s", "+".join(splits), n_images, seed, out
    )
    return paths


def _scene(image_id: int, split: str, rng: random.Random) -> dict[str, Any]:
    shapes = rng.sample(SHAPES, rng.randint(1, 3))
    background = rng.choice(sorted(BACKGROUNDS))
    colors = rng.sample(sorted(set(COLORS) - {background}), len(shapes))
    objects = list(zip(shapes, colors, strict=True))
    return {
        "image_id": image_id,
        "file_name": f"COCO_{split}_{image_id:012d}.jpg",
        "background": background,
        "objects": objects,
    }


def _draw(scene: dict[str, Any], size: int, rng: random.Random, image_module: Any) -> Any:
    from PIL import ImageDraw

    image = image_module.new("RGB", (size, size), BACKGROUNDS[scene["background"]])
    draw, cell = ImageDraw.Draw(image), size // 2
    for (shape, color), slot in zip(scene["objects"], rng.sample(range(4), len(scene["objects"])), strict=True):
        side = rng.randint(cell * 9 // 16, cell * 13 // 16)  # one shape per quarter: shapes never overlap
        x, y = (slot % 2) * cell + rng.randint(0, cell - side), (slot // 2) * cell + rng.randint(0, cell - side)
        fill, box = COLORS[color], (x, y, x + side - 1, y + side - 1)
        if shape == "circle":
            draw.ellipse(box, fill=fill)
        elif shape == "square":
            draw.rectangle(box, fill=fill)
        else:
            draw.polygon([(x + side // 2, y), (x, y + side - 1), (x + side - 1, y + side - 1)], fill=fill)
    return image


def _captions(scene: dict[str, Any], rng: random.Random) -> list[str]:
    """2-5 captions in the loose style of COCO annotators (capitals and final stops vary)."""
    things = [f"{_article(color)} {color} {shape}" for shape, color in scene["objects"]]
    objects = things[0] if len(things) == 1 else ", ".join(things[:-1]) + " and " + things[-1]
    n, bg, a_bg = len(things), scene["background"], f"{_article(scene['background'])} {scene['background']}"
    options = [
        f"{objects} on {a_bg} background.",
        f"{a_bg} background with {objects}",
        f"There {'is' if n == 1 else 'are'} {NUMBER_WORDS[n]} shape{'s' * (n > 1)} on {a_bg} background: {objects}.",
        f"A simple drawing of {objects} against a plain {bg} backdrop.",
        f"{objects} drawn on {bg}",
        f"An image showing {objects} over {a_bg} background",
    ]
    return [
        text[0].upper() + text[1:] if rng.random() < 0.7 else text for text in rng.sample(options, rng.randint(2, 5))
    ]


def _vqav2_files(
    scenes: list[dict[str, Any]], split: str, per_image: int, size: int, rng: random.Random
) -> dict[str, dict[str, Any]]:
    """The questions, annotations and captions documents of one split."""
    questions, annotations, images, captions = [], [], [], []
    for scene in scenes:
        image_id = scene["image_id"]
        images.append({"id": image_id, "file_name": scene["file_name"], "height": size, "width": size})
        captions += [(image_id, text) for text in _captions(scene, rng)]
        present = {shape for shape, _ in scene["objects"]}
        candidates = [
            (f"What color is the {shape}?", color, "what color is the", "other") for shape, color in scene["objects"]
        ]
        candidates.append(("How many shapes are there?", str(len(present)), "how many", "number"))
        candidates += [
            (f"Is there a {shape}?", "yes" if shape in present else "no", "is there a", "yes/no") for shape in SHAPES
        ]
        candidates.append(("What color is the background?", scene["background"], "what color is the", "other"))
        for j, (question, answer, question_type, answer_type) in enumerate(rng.sample(candidates, per_image)):
            question_id = image_id * 1000 + j  # VQAv2's convention: image id, then the question's index
            questions.append({"image_id": image_id, "question": question, "question_id": question_id})
            annotations.append(
                {
                    "question_type": question_type,
                    "multiple_choice_answer": answer,
                    "answers": _answers(answer, answer_type, rng),
                    "image_id": image_id,
                    "answer_type": answer_type,
                    "question_id": question_id,
                }
            )
    caption_ids = rng.sample(range(1, 1_000_000), len(captions))
    caption_rows = [
        {"image_id": i, "id": a, "caption": text} for (i, text), a in zip(captions, caption_ids, strict=True)
    ]
    rng.shuffle(annotations)  # the published files are not in question order: the readers must join by id
    rng.shuffle(caption_rows)
    info = {
        "description": f"seqit synthetic shapes, {split}",
        "version": "1.0",
        "contributor": "seqit_utils.multimodal.vqa_data",
    }
    common = {"info": info, "data_type": "mscoco", "data_subtype": split}
    return {
        "questions": {**common, "task_type": "Open-Ended", "questions": questions},
        "annotations": {**common, "annotations": annotations},
        "captions": {"info": info, "licenses": [], "images": images, "annotations": caption_rows},
    }


def _answers(answer: str, answer_type: str, rng: random.Random) -> list[dict[str, Any]]:
    """10 annotators: the answer, except for up to 3 (so the majority holds) giving a variant or a wrong answer."""
    given = [answer] * 10
    for k in rng.sample(range(10), rng.choice((0, 1, 1, 2, 2, 3))):
        if rng.random() < 0.6:
            word = NUMBER_WORDS[int(answer)] if answer_type == "number" else answer
            given[k] = rng.choice([word, word.capitalize(), f"{answer}."])
        elif answer_type == "yes/no":
            given[k] = "no" if answer == "yes" else "yes"
        elif answer_type == "number":
            given[k] = str(int(answer) + rng.choice((-1, 1) if int(answer) > 1 else (1,)))
        else:
            given[k] = rng.choice(sorted(set(BACKGROUNDS) - {answer}))
    out = []
    for k, text in enumerate(given):
        confidence = "yes" if text == answer else rng.choice(("yes", "maybe", "no"))
        out.append({"answer": text, "answer_confidence": confidence, "answer_id": k + 1})
    return out


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _gqa_questions(scenes: list[dict[str, Any]], per_image: int, rng: random.Random) -> dict[str, dict[str, Any]]:
    """GQA's layout: question id -> {imageId, question, answer, fullAnswer, ...}."""
    out = {}
    for scene in scenes:
        present = {shape for shape, _ in scene["objects"]}
        candidates = [(f"What color is the {s}?", c, f"The {s} is {c}.") for s, c in scene["objects"]]
        candidates += [
            (f"Is there a {s}?", "yes", f"Yes, there is a {s}.")
            if s in present
            else (f"Is there a {s}?", "no", f"No, there is no {s}.")
            for s in SHAPES
        ]
        candidates.append(
            ("What color is the background?", scene["background"], f"The background is {scene['background']}.")
        )
        for j, (question, answer, full) in enumerate(rng.sample(candidates, min(per_image, len(candidates)))):
            question_id = f"{scene['image_id'] * 10 + j:08d}"
            out[question_id] = {
                "imageId": Path(scene["file_name"]).stem,
                "question": question,
                "answer": answer,
                "fullAnswer": full,
                "isBalanced": True,
                "equivalent": [question_id],
                "entailed": [],
                "annotations": {"question": {}, "answer": {}, "fullAnswer": {}},
            }
    return out


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")  # compact, as the published files; atomic via atomic_dir
