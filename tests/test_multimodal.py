"""Multimodal SIT (§4.1.2) on a tiny InstructBLIP built from config, with the synthetic VQAv2/COCO/GQA files:
only the Q-Former (+ query tokens, + the projection when asked) changes in training, the loss is on the response,
a forced prefix is kept and continued, negative captions come from other images."""

from __future__ import annotations

import pytest
import torch

from seqit_utils.multimodal import model as multimodal
from seqit_utils.multimodal import run as multimodal_run
from seqit_utils.multimodal import vqa_data, vqa_synthetic
from seqit_utils.sit import manual as sit

TINY = dict(
    image_size=32,
    patch_size=8,
    num_query_tokens=4,
    vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2),
    qformer=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                 max_position_embeddings=64),
    text=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
              max_position_embeddings=192, vocab_size=300),
)  # fmt: skip
TEMPLATE = "alpaca_short"


@pytest.fixture(scope="module", autouse=True)
def _single_thread(one_torch_thread):
    """Module-wide: the fixtures below build and train models."""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    paths = vqa_synthetic.make_synthetic(
        tmp_path_factory.mktemp("vqa") / "data", n_images=6, questions_per_image=2, seed=0
    )
    train = vqa_data.load_vqav2("train2014", data_dir=paths["data_dir"])
    sets, _ = multimodal_run.training_sets(train, seed=0)
    return paths, sets, lambda name: vqa_data.load_image(paths["images"], name)


@pytest.fixture(scope="module")
def base(data, tmp_path_factory):
    _, sets, _ = data
    out = tmp_path_factory.mktemp("base") / "tiny"
    return multimodal.build_tiny(sets["sit"], out, seed=0, template=TEMPLATE, lm_warmup_steps=5, **TINY)


def _weights(path) -> dict[str, torch.Tensor]:
    model, _ = multimodal.load(path)
    return {name: p.detach().clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("train_projection", [False, True])
def test_only_the_qformer_and_query_tokens_change(data, base, tmp_path, train_projection):
    _, sets, image = data
    before = _weights(base)
    summary = multimodal.train(
        base, sets["sit"], image, tmp_path / "ck", template=TEMPLATE, seed=0, learning_rate=1e-2, num_train_epochs=1,
        max_steps=3, per_device_train_batch_size=4, train_projection=train_projection, final_dir=tmp_path / "final",
    )  # fmt: skip
    assert summary["global_step"] == 3 and summary["train_examples"] == len(sets["sit"])
    after = _weights(tmp_path / "final")
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    allowed = ("qformer.", "query_tokens") + (("language_projection.",) if train_projection else ())
    assert changed and all(name.startswith(allowed) for name in changed), sorted(changed)[:5]
    assert "query_tokens" in changed and any(name.startswith("qformer.encoder.") for name in changed)
    assert any(name.startswith("language_projection.") for name in changed) == train_projection
    frozen = [name for name in before if name.startswith(("vision_model.", "language_model."))]
    assert frozen and not changed & set(frozen)  # the vision encoder and the LM: bit for bit unchanged


def test_loss_is_on_the_response_and_eos_only(data, base):
    _, sets, image = data
    _, processor = multimodal.load(base)
    record = sets["sit"][-1]
    [feature] = multimodal.encode([record], processor, image, TEMPLATE, max_length=512)
    tokenizer = processor.tokenizer
    trained = [label for label in feature["labels"] if label != -100]
    assert trained[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(trained[:-1]) == record["output"]  # "<caption>\n<answer>", nothing of the prompt
    image_token = tokenizer.convert_tokens_to_ids("<image>")
    assert feature["input_ids"][: TINY["num_query_tokens"]] == [image_token] * TINY["num_query_tokens"]
    qformer_text = processor.qformer_tokenizer.decode(feature["qformer_input_ids"], skip_special_tokens=True)
    assert qformer_text.startswith("# # # instruction : first describe the image")  # the prompt, BERT-uncased


def test_a_forced_prefix_is_kept_and_continued(data, base):
    _, sets, image = data
    model, processor = multimodal.load(base)
    records = multimodal_run.condition_records(sets["sit"][:2], "sit_neg")
    free = multimodal.generate(model, processor, records, image, template=TEMPLATE, max_new_tokens=6)
    forced = multimodal.generate(
        model, processor, records, image, template=TEMPLATE, max_new_tokens=6, prefixes=["a blue moon\n", "x\n"]
    )
    assert forced[0].startswith("a blue moon\n") and forced[1].startswith("x\n")
    assert len(forced[0]) > len("a blue moon\n")  # the model continued after the prefix
    assert forced != free


def test_negative_captions_come_from_other_images_and_are_seeded(data):
    paths, _, _ = data
    records = vqa_data.load_vqav2("val2014", data_dir=paths["data_dir"])
    pool = multimodal_run.caption_pool(records)
    own = {r["image"]: set(r["captions"]) for r in records}
    drawn = multimodal_run.negative_captions(records, pool, seed=0)
    assert all(caption not in own[r["image"]] for r, caption in zip(records, drawn, strict=True))
    assert drawn == multimodal_run.negative_captions(records, pool, seed=0)
    assert drawn != multimodal_run.negative_captions(records, pool, seed=1)
    with pytest.raises(ValueError, match="no caption of another image"):
        multimodal_run.negative_captions(records[:1], multimodal_run.caption_pool(records[:1]), seed=0)


def test_conditions_use_the_it_or_the_sequential_instruction(data):
    paths, _, _ = data
    records = vqa_data.load_gqa(data_dir=paths["data_dir"])[:2]
    assert {r["instruction"] for r in multimodal_run.condition_records(records, "it")} == {sit.CAPTION_IT_INSTRUCTION}
    for condition in ("prompt", "sit", "sit_neg"):
        [instruction] = {r["instruction"] for r in multimodal_run.condition_records(records, condition)}
        assert instruction == "First describe the image, then answer the input question based on the image."


def test_a_finished_run_called_again_is_reloaded_not_trained_further(data, base, tmp_path):
    _, sets, image = data
    kwargs = dict(template=TEMPLATE, seed=0, learning_rate=1e-2, num_train_epochs=1, max_steps=2,
                  per_device_train_batch_size=4, final_dir=tmp_path / "final")  # fmt: skip
    first = multimodal.train(base, sets["it"], image, tmp_path / "ck", **kwargs)
    weights = _weights(tmp_path / "final")
    again = multimodal.train(base, sets["it"], image, tmp_path / "ck", **kwargs)
    assert again == {**first, "resumed_from": "checkpoint-2", "reloaded": True}
    assert all(torch.equal(weights[name], value) for name, value in _weights(tmp_path / "final").items())
