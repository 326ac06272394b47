"""VQAv2 + COCO captions and GQA in their published formats (§4.1.2, Table 3), lazy images, and a synthetic stand-in.

§4.1.2 fine-tunes InstructBLIP on VQAv2 with "First describe the image, then answer the input question based on the
image", a COCO caption of the image being the intermediate output; Table 3 evaluates on VQAv2 and GQA. The readers
return plain records for `seqit_utils.sit.caption_sit` / `caption_it`:

- VQAv2 (`read_vqav2`, `load_vqav2`): id = str(question_id), instruction (the §4.1.2 IT instruction), image_id,
  image (the COCO `file_name`), question, input (= question), answers (the annotators' raw answers, 10 in the
  published files), output (= multiple_choice_answer), question_type, answer_type, captions (all COCO captions of
  the image, by annotation id) and caption (the first of them, "" when the image has none).
- GQA (`read_gqa`, `load_gqa`): id = the question id, instruction, image_id (`imageId`), image ("<imageId>.jpg"),
  question, input, answer, output (= answer).

Records come in question-id order; `limit` keeps the first N. Records name their image; `load_image` opens it only
when called. Files are found as in `seqit_utils.data` (an explicit path, then `$SEQIT_DATA_DIR/<dataset>/<original
file name>`), but there is no hub fallback: these readers use local files only. `make_synthetic` writes a small
procedurally drawn dataset in the same published formats and folder layout (the `smoke` profile's data).
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seqit_utils.data import DATA_DIR_ENV, DataNotFoundError, MalformedRecordError, Row, field, read_file
from seqit_utils.io import atomic_dir
from seqit_utils.sit import CAPTION_IT_INSTRUCTION

logger = logging.getLogger(__name__)

VQAV2_SPLITS = ("train2014", "val2014")  # the splits with published annotations (test-dev answers are server-side)
GQA_FILE = "testdev_balanced_questions.json"
SOURCES = {  # where the published files come from; named in "not found" errors
    "vqav2": "https://visualqa.org/download.html",
    "coco": "https://cocodataset.org/#download",
    "gqa": "https://cs.stanford.edu/people/dorarad/gqa/download.html",
}
_COCO_NAME = re.compile(r"COCO_(?P<split>[A-Za-z0-9-]+)_\d+\.\w+")  # COCO_val2014_000000000042.jpg


def vqav2_filenames(split: str) -> dict[str, tuple[str, str]]:
    """(dataset folder, original file name) of the questions, annotations and captions of a VQAv2 split."""
    if split not in VQAV2_SPLITS:
        raise ValueError(f"split={split!r} is not allowed; allowed values: {', '.join(VQAV2_SPLITS)}")
    return {
        "questions": ("vqav2", f"v2_OpenEnded_mscoco_{split}_questions.json"),
        "annotations": ("vqav2", f"v2_mscoco_{split}_annotations.json"),
        "captions": ("coco", f"captions_{split}.json"),
    }


def resolve(
    dataset: str, filename: str, *, path: str | Path | None = None, data_dir: str | Path | None = None
) -> Path:
    """An explicit `path`, else `<data_dir or $SEQIT_DATA_DIR>/<dataset>/<filename>`; DataNotFoundError otherwise.

    The error names the dataset, every path tried and the fix. An explicit path is never replaced by another source.
    """
    fix = (
        f"Fix: pass the file's path, or set {DATA_DIR_ENV} (or data_dir=) to a folder containing {dataset}/{filename}"
        f" (the published file, from {SOURCES.get(dataset, 'its publisher')}); for an offline stand-in, "
        "seqit_utils.vqa_data.make_synthetic(out_dir, seed=...) writes this layout."
    )
    if path is not None:
        if Path(path).expanduser().is_file():
            return Path(path).expanduser()
        raise DataNotFoundError(f"dataset {dataset!r}: the explicit path={str(path)!r} is not a file.\n{fix}")
    folder = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    candidate = None if folder is None else Path(folder).expanduser() / dataset / filename
    if candidate is not None and candidate.is_file():
        return candidate
    if candidate is None:
        local = f"{DATA_DIR_ENV} is unset (and no data_dir was given), so no local folder was searched"
    else:
        local = f"{'data_dir' if data_dir is not None else DATA_DIR_ENV}={str(folder)!r}: {candidate} does not exist"
    raise DataNotFoundError(
        f"dataset {dataset!r}: could not find {filename!r}. Tried, in order:\n  1. explicit path: none given\n"
        f"  2. {local}\n  3. Hugging Face hub: not tried; the VQAv2/COCO/GQA readers use local files only (no hub "
        f"download is implemented: the hub is unreachable offline)\n{fix}"
    )


def read_coco_captions(path: str | Path, *, limit: int | None = None) -> list[dict[str, Any]]:
    """COCO captions (`captions_<split>.json`): one record per image, by image id: id, image_id, image (file_name),
    captions (stripped, by annotation id; [] if none) and caption (the first, else "")."""
    _check_limit(limit)
    doc = _document(path)
    images: dict[int, dict[str, Any]] = {}
    for row in _list(doc, "images"):
        image_id = field(row, "id", int)
        if image_id in images:
            raise MalformedRecordError(f"{row.where}: image id {image_id} occurs twice in 'images'")
        images[image_id] = {"id": str(image_id), "image_id": image_id, "image": field(row, "file_name")}
    captions: list[tuple[int, int, str]] = []
    for row in _list(doc, "annotations"):
        ann_id, image_id, caption = field(row, "id", int), field(row, "image_id", int), field(row, "caption")
        if image_id not in images:
            raise MalformedRecordError(f"{row.where}: image_id {image_id} is not in the file's 'images' list")
        captions.append((ann_id, image_id, caption.strip()))  # some published captions end in spaces or "\n"
    by_image: dict[int, list[str]] = {image_id: [] for image_id in images}
    for _, image_id, caption in sorted(captions):
        if caption:
            by_image[image_id].append(caption)
    records = [{**images[i], "captions": by_image[i], "caption": next(iter(by_image[i]), "")} for i in sorted(images)]
    return records[:limit]


def read_vqav2(
    questions: str | Path, annotations: str | Path, captions: str | Path, *, limit: int | None = None
) -> list[dict[str, Any]]:
    """VQAv2 questions joined with their annotations (by question_id) and their image's COCO captions (by image_id).

    A question whose image has no caption is kept with captions [] and caption "" (`caption_sit` refuses it); their
    number is logged as a warning. A question without annotation, or whose image is missing from the captions file's
    images, is a MalformedRecordError (a ValueError) naming the file and the entry.
    """
    _check_limit(limit)
    images = {record["image_id"]: record for record in read_coco_captions(captions)}
    answered = _by_question_id(_list(_document(annotations), "annotations"))
    asked = _by_question_id(_list(_document(questions), "questions"))
    records = []
    for question_id in sorted(asked):
        q = asked[question_id]
        image_id, question = field(q, "image_id", int), field(q, "question")
        a = answered.get(question_id)
        if a is None:
            raise MalformedRecordError(
                f"{q.where}: question_id {question_id} has no entry in {annotations}; "
                "hint: use the annotations file of the same split as the questions"
            )
        if field(a, "image_id", int) != image_id:
            raise MalformedRecordError(
                f"{a.where}: image_id {a.data['image_id']} differs from the question's {image_id}"
            )
        if image_id not in images:
            raise MalformedRecordError(
                f"{q.where}: image_id {image_id} is not among the images of {captions}; "
                "hint: use the COCO captions file of the same split (captions_<split>.json)"
            )
        image = images[image_id]
        records.append(
            {
                "id": str(question_id),
                "instruction": CAPTION_IT_INSTRUCTION,  # §4.1.2 IT; caption_sit prepends "First describe the image"
                "image_id": image_id,
                "image": image["image"],
                "question": question,
                "input": question,
                "answers": [field(answer, "answer") for answer in _list(a, "answers")],
                "output": field(a, "multiple_choice_answer"),
                "question_type": field(a, "question_type", default=""),
                "answer_type": field(a, "answer_type", default=""),
                "captions": list(image["captions"]),
                "caption": image["caption"],
            }
        )
    records = records[:limit]
    uncaptioned = sum(1 for record in records if not record["captions"])
    if uncaptioned:
        logger.warning("vqav2: %d of %d questions have no caption for their image", uncaptioned, len(records))
    return records


def read_gqa(path: str | Path, *, limit: int | None = None) -> list[dict[str, Any]]:
    """GQA questions (`<split>_balanced_questions.json`: an object question id → {imageId, question, answer, …})."""
    _check_limit(limit)
    doc = _document(path)
    records = []
    for question_id in sorted(doc.data, key=_id_order):
        row = Row(f"{doc.where}, question {question_id!r}", doc.data[question_id])
        image_id, question, answer = field(row, "imageId"), field(row, "question"), field(row, "answer")
        records.append(
            {
                "id": question_id,
                "instruction": CAPTION_IT_INSTRUCTION,
                "image_id": image_id,
                "image": f"{image_id}.jpg",
                "question": question,
                "input": question,
                "answer": answer,
                "output": answer,
            }
        )
    return records[:limit]


def load_vqav2(
    split: str = "val2014",
    *,
    questions: str | Path | None = None,
    annotations: str | Path | None = None,
    captions: str | Path | None = None,
    data_dir: str | Path | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """`read_vqav2` on the split's files: explicit paths, else `<data_dir or $SEQIT_DATA_DIR>/{vqav2,coco}/…`."""
    explicit = {"questions": questions, "annotations": annotations, "captions": captions}
    paths = [
        resolve(dataset, filename, path=explicit[role], data_dir=data_dir)
        for role, (dataset, filename) in vqav2_filenames(split).items()
    ]
    return read_vqav2(*paths, limit=limit)


def load_gqa(
    *,
    filename: str = GQA_FILE,
    path: str | Path | None = None,
    data_dir: str | Path | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """`read_gqa` on `path`, else `<data_dir or $SEQIT_DATA_DIR>/gqa/<filename>` (test-dev balanced by default)."""
    return read_gqa(resolve("gqa", filename, path=path, data_dir=data_dir), limit=limit)


def load_image(image_dir: str | Path, file_name: str, *, split: str | None = None) -> Any:
    """Open `image_dir/<file_name>` or, COCO's layout, `image_dir/<split>/<file_name>` as an RGB PIL image.

    `split` defaults to the one in a COCO file name (COCO_val2014_….jpg → val2014). FileNotFoundError names the
    file, the folder and the paths tried.
    """
    folder = Path(image_dir).expanduser()
    match = _COCO_NAME.fullmatch(file_name)
    split = split or (match["split"] if match else None)
    candidates = [folder / file_name, *([folder / split / file_name] if split else [])]
    for candidate in candidates:
        if candidate.is_file():
            with _pil().open(candidate) as image:
                return image.convert("RGB")  # a loaded copy: the file is closed on return
    state = "" if folder.is_dir() else " (the folder does not exist)"
    raise FileNotFoundError(
        f"image {file_name!r} not found in {folder}{state}; tried: {', '.join(map(str, candidates))}. Fix: pass the "
        "folder holding the images (e.g. <data>/coco with val2014/ inside, <data>/gqa/images, or make_synthetic's "
        "images/)"
    )


# --- synthetic data: the published formats, drawn shapes -------------------------------------------------------------

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
    rng, image_module = random.Random(seed), _pil()
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
    info = {"description": f"seqit synthetic shapes, {split}", "version": "1.0", "contributor": "seqit_utils.vqa_data"}
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


# --- helpers ---------------------------------------------------------------------------------------------------------


def _document(path: str | Path) -> Row:
    """The file's top-level JSON object (all three formats are one object), via `seqit_utils.data.read_file`."""
    rows = read_file(path)
    if len(rows) == 1 and rows[0].where == str(Path(path)) and isinstance(rows[0].data, dict):
        return rows[0]
    raise MalformedRecordError(
        f"{path}: expected one JSON object at the top level (the published layout), found a list of {len(rows)}; "
        "hint: check that this is the published file"
    )


def _list(row: Row, name: str) -> list[Row]:
    """The elements of list field `name`, each located as `<where>, <name>[k]` for error messages."""
    return [Row(f"{row.where}, {name}[{k}]", item) for k, item in enumerate(field(row, name, list))]


def _by_question_id(rows: list[Row]) -> dict[int, Row]:
    out: dict[int, Row] = {}
    for row in rows:
        question_id = field(row, "question_id", int)
        if question_id in out:
            raise MalformedRecordError(f"{row.where}: question_id {question_id} occurs twice")
        out[question_id] = row
    return out


def _id_order(question_id: str) -> tuple[int, int, str]:
    """Numeric ids in numeric order ("9" < "10"), then any others as text."""
    numeric = question_id.isascii() and question_id.isdigit()
    return (0, int(question_id), question_id) if numeric else (1, 0, question_id)


def _check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit={limit!r} is not allowed; allowed values: None or an int >= 0")


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")  # compact, as the published files; atomic via atomic_dir


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as err:  # Pillow arrives with transformers' vision extras / matplotlib, not with seqit itself
        raise ImportError("VQA images need Pillow: pip install pillow") from err
    return Image
