"""VQAv2 + COCO captions and GQA in their published formats (§4.1.2, Table 3), lazy images, and a synthetic stand-in.

§4.1.2 fine-tunes InstructBLIP on VQAv2 with "First describe the image, then answer the input question based on the
image", a COCO caption of the image being the intermediate output; Table 3 evaluates on VQAv2 and GQA. The readers
return plain records for `seqit_utils.sit.manual.caption_sit` / `caption_it`:

- VQAv2 (`read_vqav2`, `load_vqav2`): id = str(question_id), instruction (the §4.1.2 IT instruction), image_id,
  image (the COCO `file_name`), question, input (= question), answers (the annotators' raw answers, 10 in the
  published files), output (= multiple_choice_answer), question_type, answer_type, captions (all COCO captions of
  the image, by annotation id) and caption (the first of them, "" when the image has none).
- GQA (`read_gqa`, `load_gqa`): id = the question id, instruction, image_id (`imageId`), image ("<imageId>.jpg"),
  question, input, answer, output (= answer).

Records come in question-id order; `limit` keeps the first N. Records name their image; `load_image` opens it only
when called. Files are found as in `seqit_utils.data.sources` (an explicit path, then
`$SEQIT_DATA_DIR/<dataset>/<original
file name>`), but there is no hub fallback: these readers use local files only.
`seqit_utils.multimodal.vqa_synthetic` writes
a small procedurally drawn dataset in the same published formats and folder layout (the `smoke` profile's data).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from seqit_utils.data.sources import DATA_DIR_ENV, DataNotFoundError, MalformedRecordError, Row, field, read_file
from seqit_utils.sit.manual import CAPTION_IT_INSTRUCTION

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
        "seqit_utils.multimodal.vqa_synthetic.make_synthetic(out_dir, seed=...) writes this layout."
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
            with pil_module().open(candidate) as image:
                return image.convert("RGB")  # a loaded copy: the file is closed on return
    state = "" if folder.is_dir() else " (the folder does not exist)"
    raise FileNotFoundError(
        f"image {file_name!r} not found in {folder}{state}; tried: {', '.join(map(str, candidates))}. Fix: pass the "
        "folder holding the images (e.g. <data>/coco with val2014/ inside, <data>/gqa/images, or the images/ folder "
        "of vqa_synthetic.make_synthetic)"
    )


# --- helpers ---------------------------------------------------------------------------------------------------------


def _document(path: str | Path) -> Row:
    """The file's top-level JSON object (all three formats are one object), via
    `seqit_utils.data.sources.read_file`."""
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


def pil_module() -> Any:
    try:
        from PIL import Image
    except ImportError as err:  # Pillow arrives with transformers' vision extras / matplotlib, not with seqit itself
        raise ImportError("VQA images need Pillow: pip install pillow") from err
    return Image
