"""`seqit_utils.evaluate.vllm_backend`: vLLM needs a GPU and is not installed here, so the engine is left out and
what surrounds it is checked with the real tokenizer of a tiny model: the requests carry exactly the token ids the
HF backend feeds its model, the sampling options are greedy with the same stops, and vLLM's outputs map back to
completions in input order, truncated like the HF backend's. The engine itself runs only in the GPU test below
(skipped without CUDA and vLLM) and in `seqit gpu-check`."""

from __future__ import annotations

import importlib.util
import re
from types import SimpleNamespace

import pytest

from seqit_utils import prompts
from seqit_utils.config import GenerationParams
from seqit_utils.evaluate import vllm_backend
from seqit_utils.evaluate.generate import HFGenerator, truncate_at_stop
from seqit_utils.train import tiny

SIZE = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64)
PROMPTS = [
    prompts.format_prompt("Sort the items.", "b a c", "alpaca_short"),
    prompts.format_prompt("Reverse.", "", "tulu"),
    prompts.format_prompt("First repeat the input, then count the items.", "x y", "alpaca"),
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    texts = [p + "a b c" for p in PROMPTS] * 20
    return tiny.build_tiny(
        texts, tmp_path_factory.mktemp("tiny"), seed=0, max_position_embeddings=128, vocab_size=300, **SIZE
    )


def test_requests_carry_the_token_ids_the_hf_backend_feeds_its_model(model_dir):
    hf = HFGenerator(model_dir, max_new_tokens=4, progress=False)
    sent = vllm_backend.requests(hf.tokenizer, PROMPTS)
    assert sent == [{"prompt_token_ids": hf.encode(p)} for p in PROMPTS]
    assert all(r["prompt_token_ids"][0] == hf.tokenizer.bos_token_id for r in sent)


def test_sampling_is_greedy_capped_and_stops_like_the_hf_backend(model_dir):
    hf = HFGenerator(model_dir, max_new_tokens=4, progress=False)
    stop = prompts.stop_strings("tulu")
    eos = vllm_backend.eos_ids(hf.tokenizer, [hf.tokenizer.eos_token_id, 7])  # e.g. Llama-3's <|eot_id|> as well
    options = vllm_backend.sampling_options(32, (*stop, ""), eos)
    assert options == {
        "temperature": 0.0,
        "max_tokens": 32,
        "stop": list(stop),
        "stop_token_ids": [hf.tokenizer.eos_token_id, 7],
        "skip_special_tokens": True,
    }
    assert vllm_backend.eos_ids(hf.tokenizer, None) == hf.eos_ids  # the same EOS set as HFGenerator's


def test_outputs_map_to_completions_in_input_order_cut_at_the_first_stop():
    texts = ["b c a\n\n### Instruction:\nmore", "done<|user|>\nagain", "x y\n2"]
    outputs = [SimpleNamespace(outputs=[SimpleNamespace(text=t, finish_reason="stop")]) for t in texts]
    stop = prompts.stop_strings("alpaca")
    assert vllm_backend.completions(outputs, stop) == [truncate_at_stop(t, stop) for t in texts]
    assert vllm_backend.completions(outputs, stop)[0] == "b c a"
    assert vllm_backend.completions(outputs, prompts.stop_strings("tulu"))[1] == "done"


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_without_vllm_the_error_names_the_install(model_dir):
    with pytest.raises(RuntimeError, match=re.escape("pip install -e '.[gpu]' -c constraints-gpu.txt")):
        vllm_backend.VLLMGenerator(model_dir)


def test_the_backend_is_a_generation_param():
    assert GenerationParams(batch_size=8, max_new_tokens=16).backend == "hf"
    assert GenerationParams(batch_size=8, max_new_tokens=16, backend="vllm").backend == "vllm"
    with pytest.raises(ValueError, match="'hf' or 'vllm'"):
        GenerationParams(batch_size=8, max_new_tokens=16, backend="tgi")


@pytest.mark.gpu
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vLLM and a CUDA GPU (the gpu extra)")
def test_vllm_and_hf_give_the_same_greedy_completions(model_dir):
    hf = HFGenerator(model_dir, max_new_tokens=8, stop=prompts.stop_strings("alpaca"), progress=False)
    fast = vllm_backend.VLLMGenerator(
        model_dir, max_new_tokens=8, stop=prompts.stop_strings("alpaca"), dtype="float32"
    )
    assert fast.generate(PROMPTS) == hf.generate(PROMPTS)
