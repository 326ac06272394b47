"""VQAv2 / COCO captions / GQA readers (§4.1.2, Table 3) on hand-written files in the published layouts and on the
synthetic dataset; lazy images; resolution errors. No real VQA data is in ../shared/data (see its MANIFEST.md)."""

from __future__ import annotations

import copy
import json
import logging
import re
from pathlib import Path

import pytest

from seqit_utils.data.sources import DataNotFoundError
from seqit_utils.multimodal.vqa_data import (
    load_gqa,
    load_image,
    load_vqav2,
    read_coco_captions,
    read_gqa,
    read_vqav2,
    resolve,
)
from seqit_utils.multimodal.vqa_synthetic import BACKGROUNDS, COLORS, SHAPES, make_synthetic
from seqit_utils.sit import manual as sit

Image = pytest.importorskip("PIL.Image", reason="images need Pillow (pip install pillow)")
N_IMAGES, PER_IMAGE = 24, 3


def _answers(*texts: str) -> list[dict]:
    return [{"answer": t, "answer_confidence": "yes", "answer_id": k + 1} for k, t in enumerate(texts)]


INFO = {"description": "hand-written excerpt in the published layout", "version": "2.0", "year": 2017}
# v2_OpenEnded_mscoco_val2014_questions.json: questions deliberately out of question_id order.
QUESTIONS = {
    "info": INFO,
    "task_type": "Open-Ended",
    "data_type": "mscoco",
    "data_subtype": "val2014",
    "questions": [
        {"image_id": 393225, "question": "What is the man holding?", "question_id": 393225001},
        {"image_id": 262148, "question": "Where is he looking?", "question_id": 262148000},
        {"image_id": 99, "question": "Is it raining?", "question_id": 99000},  # its image has no caption
        {"image_id": 42, "question": "What are the pants made of?", "question_id": 42000},
    ],
}
# v2_mscoco_val2014_annotations.json, in yet another order.
ANNOTATIONS = {
    "info": INFO,
    "data_type": "mscoco",
    "data_subtype": "val2014",
    "annotations": [
        {
            "question_type": "none of the above",
            "multiple_choice_answer": "down",
            "answers": _answers(
                "down", "down", "at table", "skateboard", "down", "table", "down", "down", "down", "down"
            ),
            "image_id": 262148,
            "answer_type": "other",
            "question_id": 262148000,
        },
        {
            "question_type": "is it",
            "multiple_choice_answer": "no",
            "answers": _answers(*["no"] * 9, "yes"),
            "image_id": 99,
            "answer_type": "yes/no",
            "question_id": 99000,
        },
        {
            "question_type": "what are the",
            "multiple_choice_answer": "denim",
            "answers": _answers(*["denim"] * 7, "jeans", "jean", "cotton"),
            "image_id": 42,
            "answer_type": "other",
            "question_id": 42000,
        },
        {
            "question_type": "what is the man",
            "multiple_choice_answer": "kite",
            "answers": _answers(*["kite"] * 8, "string", "Kite"),
            "image_id": 393225,
            "answer_type": "other",
            "question_id": 393225001,
        },
    ],
}
# captions_val2014.json: image 262148's captions are listed out of annotation-id order; image 99 has none.
CAPTIONS = {
    "info": INFO,
    "licenses": [],
    "images": [
        {"license": 1, "file_name": f"COCO_val2014_{i:012d}.jpg", "height": 480, "width": 640, "id": i}
        for i in (262148, 42, 393225, 99)
    ],
    "annotations": [
        {"image_id": 262148, "id": 50, "caption": "A skateboarder looks down at the ramp."},
        {"image_id": 42, "id": 7, "caption": "A man in blue jeans stands on a sidewalk. \n"},
        {"image_id": 262148, "id": 30, "caption": "A young man riding a skateboard."},
        {"image_id": 393225, "id": 12, "caption": "A man flies a kite on a beach."},
    ],
}
# testdev_balanced_questions.json: an object keyed by question id, ids deliberately not in numeric order.
GQA = {
    "201307251": {
        "semantic": [{"operation": "select", "dependencies": [], "argument": "weather (-)"}],
        "entailed": [],
        "equivalent": ["201307251"],
        "question": "Is it overcast?",
        "imageId": "n161313",
        "isBalanced": True,
        "groups": {"global": None, "local": "06-weather_overcast"},
        "answer": "no",
        "semanticStr": "select: weather (-)->verify weather: overcast [0]",
        "annotations": {"answer": {}, "question": {}, "fullAnswer": {}},
        "types": {"detailed": "verifyAttr", "semantic": "attr", "structural": "verify"},
        "fullAnswer": "No, it is clear.",
    },
    "20968379": {"imageId": "n288870", "question": "Who is wearing a shirt?", "answer": "girl", "isBalanced": True},
    "9": {"imageId": "n568961", "question": "Are there both cars and trucks?", "answer": "yes", "isBalanced": True},
}


def _write(folder: Path, name: str, obj) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(obj), encoding="utf-8")
    return folder / name


@pytest.fixture(autouse=True)
def _no_data_dir(monkeypatch):
    monkeypatch.delenv("SEQIT_DATA_DIR", raising=False)


@pytest.fixture
def vqa_files(tmp_path):
    """Write the hand-written files (optionally mutated) under tmp_path/{vqav2,coco}; returns (q, a, c) paths."""

    def write(mutate=None):
        docs = {"q": copy.deepcopy(QUESTIONS), "a": copy.deepcopy(ANNOTATIONS), "c": copy.deepcopy(CAPTIONS)}
        if mutate:
            mutate(docs)
        return (
            _write(tmp_path / "vqav2", "v2_OpenEnded_mscoco_val2014_questions.json", docs["q"]),
            _write(tmp_path / "vqav2", "v2_mscoco_val2014_annotations.json", docs["a"]),
            _write(tmp_path / "coco", "captions_val2014.json", docs["c"]),
        )

    return write


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return make_synthetic(
        tmp_path_factory.mktemp("synthetic"), n_images=N_IMAGES, questions_per_image=PER_IMAGE, seed=3
    )


# --- hand-written files in the published layouts ---------------------------------------------------------------------


def test_vqav2_joins_questions_answers_and_captions(vqa_files, caplog):
    with caplog.at_level(logging.WARNING, logger="seqit_utils.multimodal.vqa_data"):
        records = read_vqav2(*vqa_files())
    assert [r["id"] for r in records] == ["42000", "99000", "262148000", "393225001"]  # question_id order
    by_id = {r["id"]: r for r in records}
    looking = by_id["262148000"]
    assert looking["image"] == "COCO_val2014_000000262148.jpg" and looking["image_id"] == 262148
    assert looking["question"] == looking["input"] == "Where is he looking?"
    assert looking["answers"] == ["down", "down", "at table", "skateboard", "down", "table"] + ["down"] * 4
    assert looking["output"] == "down" and looking["answer_type"] == "other"
    # All captions of the image by annotation id (30 before 50), the first one as `caption`.
    assert looking["captions"] == ["A young man riding a skateboard.", "A skateboarder looks down at the ramp."]
    assert looking["caption"] == "A young man riding a skateboard."
    assert by_id["42000"]["caption"] == "A man in blue jeans stands on a sidewalk."  # stripped
    assert by_id["393225001"]["captions"] == ["A man flies a kite on a beach."]
    # The question whose image has no caption is kept, and counted in a warning.
    assert by_id["99000"]["captions"] == [] and by_id["99000"]["caption"] == ""
    assert by_id["99000"]["output"] == "no" and by_id["99000"]["answers"] == ["no"] * 9 + ["yes"]
    assert re.search(r"1 of 4 questions have no caption", caplog.text)


def test_vqav2_limit_keeps_the_first_question_ids(vqa_files, caplog):
    paths = vqa_files()
    assert [r["id"] for r in read_vqav2(*paths, limit=2)] == ["42000", "99000"]
    assert read_vqav2(*paths, limit=0) == []
    assert len(read_vqav2(*paths, limit=99)) == 4
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="seqit_utils.multimodal.vqa_data"):
        read_vqav2(*paths, limit=1)  # only 42000, which has a caption: no warning
    assert "no caption" not in caplog.text
    for bad in (-1, True, "2", 1.5):
        with pytest.raises(ValueError, match="limit="):
            read_vqav2(*paths, limit=bad)


def test_caption_sit_uses_the_first_caption_and_refuses_an_uncaptioned_question(vqa_files):
    records = read_vqav2(*vqa_files())
    captioned = [r for r in records if r["captions"]]
    data = sit.build_sit_dataset(captioned, "caption", seed=0)
    assert len(data) == 2 * len(captioned)
    sequential = {r["source_id"]: r for r in data if r.get("sit") == "caption"}
    looking = sequential["262148000"]
    assert looking["instruction"] == "First describe the image, then answer the input question based on the image."
    assert looking["output"] == "A young man riding a skateboard.\ndown"
    assert looking["image"] == "COCO_val2014_000000262148.jpg"
    with pytest.raises(ValueError, match=r"'99000'.*caption"):
        sit.caption_sit(records)


def _drop(doc_key, list_key, index, name):
    return lambda docs: docs[doc_key][list_key][index].pop(name)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_drop("a", "annotations", 1, "multiple_choice_answer"), r"annotations\.json, annotations\[1\]: field 'mult"),
        (_drop("q", "questions", 2, "question"), r"questions\.json, questions\[2\]: field 'question' is missing"),
        (_drop("c", "annotations", 3, "caption"), r"captions_val2014\.json, annotations\[3\]: field 'caption'"),
        (_drop("c", "images", 0, "file_name"), r"captions_val2014\.json, images\[0\]: field 'file_name'"),
        (lambda d: d["a"]["annotations"][0]["answers"][4].pop("answer"), r"annotations\[0\], answers\[4\]: field"),
        (lambda d: d["q"]["questions"][1].update(question_id="262148000"), r"questions\[1\]: field 'question_id'"),
        (lambda d: d["q"].pop("questions"), r"questions\.json: field 'questions' is missing"),
        (lambda d: d.update(q=d["q"]["questions"]), r"questions\.json: expected one JSON object"),
        (lambda d: d["a"]["annotations"].pop(2), r"questions\[3\]: question_id 42000 has no entry in .*annotations"),
        (lambda d: d["a"]["annotations"][0].update(image_id=7), r"annotations\[0\]: image_id 7 differs"),
        (lambda d: d["c"]["images"].pop(), r"questions\[2\]: image_id 99 is not among the images of .*captions"),
        (lambda d: d["c"]["annotations"][0].update(image_id=5), r"annotations\[0\]: image_id 5 is not in the file"),
    ],
)
def test_vqav2_malformed_files_name_file_entry_and_field(vqa_files, mutate, message):
    with pytest.raises(ValueError, match=message):
        read_vqav2(*vqa_files(mutate))


def test_coco_captions_reader(vqa_files):
    _, _, captions = vqa_files()
    records = read_coco_captions(captions)
    assert [r["image_id"] for r in records] == [42, 99, 262148, 393225]
    assert records[1] == {"id": "99", "image_id": 99, "image": "COCO_val2014_000000000099.jpg", "captions": []} | {
        "caption": ""
    }
    assert [r["id"] for r in read_coco_captions(captions, limit=2)] == ["42", "99"]


def test_gqa_reader(tmp_path):
    path = _write(tmp_path, "testdev_balanced_questions.json", GQA)
    records = read_gqa(path)
    assert [r["id"] for r in records] == ["9", "20968379", "201307251"]  # numeric id order
    assert records[2] == {
        "id": "201307251",
        "instruction": "Answer the input question based on the image.",
        "image_id": "n161313",
        "image": "n161313.jpg",
        "question": "Is it overcast?",
        "input": "Is it overcast?",
        "answer": "no",
        "output": "no",
    }
    assert [r["id"] for r in read_gqa(path, limit=2)] == ["9", "20968379"]
    assert load_gqa(path=path) == records


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ({**GQA, "20968379": {"question": "Who?", "answer": "girl"}}, r"question '20968379': field 'imageId' is miss"),
        (
            {**GQA, "9": {"imageId": 568961, "question": "Q?", "answer": "yes"}},
            r"question '9': field 'imageId' should",
        ),
        ({**GQA, "9": ["n568961", "Q?"]}, r"question '9': expected a JSON object"),
        (list(GQA.values()), r"expected one JSON object at the top level"),
    ],
)
def test_gqa_malformed(tmp_path, broken, message):
    with pytest.raises(ValueError, match=message):
        read_gqa(_write(tmp_path, "testdev_balanced_questions.json", broken))


# --- resolution ------------------------------------------------------------------------------------------------------


def test_resolve_order_explicit_path_then_data_dir_then_env(tmp_path, monkeypatch):
    local = _write(tmp_path / "data" / "gqa", "testdev_balanced_questions.json", GQA)
    other = _write(tmp_path / "elsewhere", "mine.json", GQA)
    assert resolve("gqa", "testdev_balanced_questions.json", data_dir=tmp_path / "data") == local
    assert resolve("gqa", "testdev_balanced_questions.json", path=other, data_dir=tmp_path / "data") == other
    monkeypatch.setenv("SEQIT_DATA_DIR", str(tmp_path / "data"))
    assert resolve("gqa", "testdev_balanced_questions.json") == local
    assert [r["id"] for r in load_gqa(limit=1)] == ["9"]


def test_resolve_errors_name_dataset_paths_tried_and_fix(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError) as err:
        resolve("vqav2", "v2_mscoco_val2014_annotations.json")
    text = str(err.value)
    assert "dataset 'vqav2'" in text and "SEQIT_DATA_DIR is unset" in text and "hub: not tried" in text
    assert "vqav2/v2_mscoco_val2014_annotations.json" in text and "visualqa.org" in text
    monkeypatch.setenv("SEQIT_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DataNotFoundError, match=re.escape(str(tmp_path / "env" / "coco" / "captions_val2014.json"))):
        resolve("coco", "captions_val2014.json")
    with pytest.raises(DataNotFoundError, match=re.escape(f"data_dir='{tmp_path / 'dd'}'")):
        resolve("gqa", "testdev_balanced_questions.json", data_dir=tmp_path / "dd")
    # An explicit path that does not exist is an error even when the data folder has the file.
    _write(tmp_path / "dd" / "gqa", "testdev_balanced_questions.json", GQA)
    with pytest.raises(DataNotFoundError, match="explicit path=.*nope.json"):
        resolve("gqa", "testdev_balanced_questions.json", path=tmp_path / "nope.json", data_dir=tmp_path / "dd")


def test_load_vqav2_resolves_each_file_and_checks_split(vqa_files, tmp_path):
    vqa_files()
    assert [r["id"] for r in load_vqav2("val2014", data_dir=tmp_path, limit=1)] == ["42000"]
    with pytest.raises(DataNotFoundError, match="v2_OpenEnded_mscoco_train2014_questions.json"):
        load_vqav2("train2014", data_dir=tmp_path)
    (tmp_path / "coco" / "captions_val2014.json").unlink()
    with pytest.raises(DataNotFoundError, match="dataset 'coco'.*captions_val2014.json"):
        load_vqav2("val2014", data_dir=tmp_path)
    with pytest.raises(ValueError, match="split='val'.*train2014, val2014"):
        load_vqav2("val", data_dir=tmp_path)


# --- images ----------------------------------------------------------------------------------------------------------


def test_load_image_flat_and_coco_split_layout(tmp_path):
    Image.new("L", (20, 10), 200).save(tmp_path / "n161313.jpg")  # grayscale on disk
    (tmp_path / "val2014").mkdir()
    Image.new("RGB", (8, 6), (250, 0, 0)).save(tmp_path / "val2014" / "COCO_val2014_000000000042.png", "PNG")
    flat = load_image(tmp_path, "n161313.jpg")
    assert flat.mode == "RGB" and flat.size == (20, 10)
    nested = load_image(tmp_path, "COCO_val2014_000000000042.png")  # image_dir/<split>/<file>, split from the name
    assert nested.getpixel((0, 0)) == (250, 0, 0)
    (tmp_path / "val2014" / "COCO_val2014_000000000042.png").unlink()
    assert nested.getpixel((3, 3)) == (250, 0, 0)  # loaded into memory, file closed
    (tmp_path / "testdev").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "testdev" / "n1.jpg")
    assert load_image(tmp_path, "n1.jpg", split="testdev").size == (4, 4)


def test_load_image_missing_names_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_image(tmp_path, "COCO_val2014_000000000042.jpg")
    text = str(err.value)
    assert "'COCO_val2014_000000000042.jpg'" in text and str(tmp_path) in text
    assert str(tmp_path / "val2014" / "COCO_val2014_000000000042.jpg") in text
    with pytest.raises(FileNotFoundError, match="folder does not exist"):
        load_image(tmp_path / "absent", "n1.jpg")


def test_records_name_images_without_opening_them(vqa_files, tmp_path):
    records = read_vqav2(*vqa_files())  # no image file exists anywhere under tmp_path
    assert all(isinstance(r["image"], str) for r in records)
    assert not list(tmp_path.rglob("*.jpg"))


# --- synthetic data --------------------------------------------------------------------------------------------------


def test_synthetic_files_have_the_published_keys(synthetic):
    questions = json.loads(synthetic["questions_val2014"].read_text())
    annotations = json.loads(synthetic["annotations_val2014"].read_text())
    captions = json.loads(synthetic["captions_val2014"].read_text())
    gqa = json.loads(synthetic["gqa_testdev"].read_text())
    assert {"info", "task_type", "data_type", "data_subtype", "questions"} <= set(questions)
    assert all(set(q) == {"image_id", "question", "question_id"} for q in questions["questions"])
    keys = {"question_id", "image_id", "answers", "multiple_choice_answer", "question_type", "answer_type"}
    assert all(set(a) == keys for a in annotations["annotations"])
    answers = [answer for a in annotations["annotations"] for answer in a["answers"]]
    assert all(set(answer) == {"answer", "answer_confidence", "answer_id"} for answer in answers)
    assert all(len(a["answers"]) == 10 for a in annotations["annotations"])
    assert all({"id", "file_name"} <= set(image) for image in captions["images"]) and len(captions["images"]) == 24
    assert all(set(c) == {"id", "image_id", "caption"} for c in captions["annotations"])
    assert all({"imageId", "question", "answer", "fullAnswer"} <= set(q) for q in gqa.values())
    assert all(q["question_id"] // 1000 == q["image_id"] for q in questions["questions"])  # VQAv2's id scheme


def test_synthetic_reads_back_with_captions_questions_and_noise(synthetic):
    train = load_vqav2("train2014", data_dir=synthetic["data_dir"])
    val = load_vqav2("val2014", data_dir=synthetic["data_dir"])
    assert len(train) == len(val) == N_IMAGES * PER_IMAGE
    assert not {r["image_id"] for r in train} & {r["image_id"] for r in val}
    records = train + val
    assert all(2 <= len(r["captions"]) <= 5 and r["caption"] == r["captions"][0] for r in records)
    kinds = {r["question"].split()[0] + " " + r["question"].split()[1] for r in records}
    assert {"What color", "How many", "Is there"} <= kinds
    normal = {"one": "1", "two": "2", "three": "3"}
    noisy = 0
    for r in records:
        assert len(r["answers"]) == 10
        norm = [normal.get(a.lower().rstrip("."), a.lower().rstrip(".")) for a in r["answers"]]
        assert norm.count(r["output"]) >= 7, r  # the multiple-choice answer is the clear majority
        noisy += any(a != r["output"] for a in r["answers"])
    assert 0 < noisy < len(records)
    answers = {a for r in records for a in r["answers"]}
    assert answers & {"two", "Two", "three", "Three", "one", "One"} and answers & {"Yes", "yes.", "No", "no."}


def test_synthetic_captions_answers_and_pixels_agree(synthetic):
    for r in load_vqav2("val2014", data_dir=synthetic["data_dir"]):
        caption, question, answer = r["caption"].lower(), r["question"], r["output"]
        image = load_image(synthetic["images"], r["image"])
        pixels = image.getcolors(maxcolors=image.width * image.height)  # (count, colour) pairs
        if question == "How many shapes are there?":
            assert sum(caption.count(shape) for shape in SHAPES) == int(answer)
        elif question.startswith("Is there a "):
            assert (question[11:-1] in caption) == (answer == "yes")
        elif question == "What color is the background?":
            assert sum(n for n, p in pixels if _near(p, BACKGROUNDS[answer])) > 0.4 * image.width * image.height
        else:
            shape = question.removeprefix("What color is the ").rstrip("?")
            assert f"{answer} {shape}" in caption
            assert sum(n for n, p in pixels if _near(p, COLORS[answer])) > 100


def _near(pixel, color, tolerance=40):
    return sum(abs(a - b) for a, b in zip(pixel, color, strict=True)) < tolerance


def test_synthetic_gqa_uses_the_same_images(synthetic):
    records = load_gqa(data_dir=synthetic["data_dir"])
    assert 0 < len(records) <= N_IMAGES * PER_IMAGE
    assert not any(r["question"].startswith("How many") for r in records)  # GQA asks no counting questions
    val_images = {r["image"] for r in load_vqav2("val2014", data_dir=synthetic["data_dir"])}
    assert {r["image"] for r in records} == val_images
    assert load_image(synthetic["images"], records[0]["image"]).size == (64, 64)


def test_synthetic_same_seed_same_bytes(tmp_path):
    def files(folder):
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    first = files(make_synthetic(tmp_path / "a", n_images=6, seed=11)["data_dir"])
    second = files(make_synthetic(tmp_path / "b", n_images=6, seed=11)["data_dir"])
    other = files(make_synthetic(tmp_path / "c", n_images=6, seed=12)["data_dir"])
    assert len(first) == 2 * 6 + 7  # 12 images, 2 x (questions, annotations, captions), GQA
    assert first == second
    assert first.keys() != other.keys() or first != other


def test_make_synthetic_rewrites_its_own_folder_and_refuses_others(tmp_path):
    paths = make_synthetic(tmp_path / "syn", n_images=2, questions_per_image=1, seed=0, splits=["val2014"])
    (tmp_path / "syn" / "images" / "stale.jpg").write_bytes(b"x")
    make_synthetic(tmp_path / "syn", n_images=2, questions_per_image=1, seed=0, splits=["val2014"])
    assert not (tmp_path / "syn" / "images" / "stale.jpg").exists()
    assert "questions_train2014" not in paths and len(load_vqav2(data_dir=tmp_path / "syn")) == 2
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="notes.txt"):
        make_synthetic(tmp_path / "mine", n_images=2, seed=0)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    for bad in ({"questions_per_image": 7}, {"n_images": 0}, {"splits": "val2014"}, {"splits": ["test2015"]}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            make_synthetic(tmp_path / "new", seed=0, **bad)


def test_vqa_accuracy_of_records_read_from_the_published_annotation_files(vqa_files):
    """Reader → `score_vqa` on the annotation records above, scores computed by hand (10 annotators, leave one
    out, min(matches among the other 9 / 3, 1), averaged):"""
    from seqit_utils.multimodal.vqa_eval import score_vqa

    records = read_vqav2(*vqa_files())  # 42000, 99000, 262148000, 393225001
    cases = [
        # 42000: denim x7, jeans, jean, cotton; "Jeans." -> "jeans" (annotators disagree: both sides normalised):
        # 1 match; its own annotator sees 0 of 9 -> 0, the 9 others see 1 -> 1/3 each: 9 * (1/3) / 10 = 0.3
        (["A man in blue jeans.\nJeans.", "A man in blue jeans.\ndenim"], [0.3, 1.0]),
        # 99000: no x9, yes; "No" -> "no": 9 matches, every annotator sees >= 8 -> 1.0; "yes": 1 match -> 0.3
        (["A street.\nNo", "A street.\nyes"], [1.0, 0.3]),
        # 262148000: down x7, at table, skateboard, table; "table": 1 match -> 0.3; "Down": 7 -> 1.0
        (["A skateboarder.\ntable", "A skateboarder.\nDown"], [0.3, 1.0]),
        # 393225001: kite x8, string, Kite; "Kite" and "Kite" normalise to "kite": 9 matches -> 1.0;
        # "a string": the article goes -> "string", 1 match -> 0.3
        (["A man flies a kite.\nKite", "A man flies a kite.\na string"], [1.0, 0.3]),
    ]
    for k, (record, (outputs, expected)) in enumerate(zip(records, cases, strict=True)):
        for output, score in zip(outputs, expected, strict=True):
            result = score_vqa([output], [record])
            assert result["per_item"] == pytest.approx([score]), (k, output)
            assert result["following"] == 1.0  # a caption line precedes the answer
    generations = [outputs[0] for outputs, _ in cases]
    assert score_vqa(generations, records)["accuracy"] == pytest.approx((0.3 + 1.0 + 0.3 + 1.0) / 4)
