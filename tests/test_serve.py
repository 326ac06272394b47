"""`seqit_utils.llm.serve`: a real `transformers serve` on a tiny model built here (untrained, offline), queried
through
`seqit_utils.llm.client.LLMClient`; its greedy answers are checked against plain `model.generate` on the same model.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest

from seqit_utils.llm.client import LLMClient, user_messages
from seqit_utils.llm.serve import transformers_serve
from seqit_utils.train import tiny

SIZE = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
# The server applies the model's chat template; the tiny tokenizer is trained here, so it gets a plain one.
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
PROMPTS = [f"Sort the list: {' '.join(map(str, range(k, 0, -1)))}" for k in range(1, 7)]
MAX_TOKENS = 8


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, one_torch_thread):
    texts = [f"user: {p}\nassistant: {' '.join(map(str, range(1, 9)))}" for p in PROMPTS] * 20
    out = tiny.build_tiny(
        texts, tmp_path_factory.mktemp("tiny"), seed=0, max_position_embeddings=256, vocab_size=300, **SIZE
    )
    config = json.loads((out / "tokenizer_config.json").read_text())
    (out / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": CHAT_TEMPLATE}))
    return out


@pytest.fixture(scope="module")
def reference(model_dir):
    """Greedy continuations without any server: the chat template, then `model.generate`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer, model = AutoTokenizer.from_pretrained(model_dir), AutoModelForCausalLM.from_pretrained(model_dir)
    texts = []
    with torch.inference_mode():
        for prompt in PROMPTS:
            inputs = tokenizer.apply_chat_template(
                user_messages(prompt), add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            out = model.generate(**inputs, do_sample=False, max_new_tokens=MAX_TOKENS)
            texts.append(tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True))
    return texts


@pytest.fixture(scope="module")
def endpoint(model_dir):
    with transformers_serve(model_dir, startup_timeout=180) as endpoint:
        yield endpoint


def test_chat_completions_through_our_client_match_local_greedy_decoding(endpoint, reference):
    client = LLMClient(
        endpoint.base_url, endpoint.model, sampling={"max_tokens": MAX_TOKENS}, concurrency=4, progress=False
    )
    results = client.complete([user_messages(p) for p in PROMPTS])
    assert all(r.ok for r in results), [r.error for r in results]
    assert [r.text for r in results] == reference
    assert all(0 < r.completion_tokens <= MAX_TOKENS and r.prompt_tokens > 0 for r in results)
    assert client.stats.requests == len(PROMPTS) and client.stats.failures == 0
    # On CPU, continuous batching would size its KV cache at 60-90% of the machine's RAM; serve.py caps it.
    status = dict(line.split(":", 1) for line in Path(f"/proc/{endpoint.pid}/status").read_text().splitlines())
    assert int(status["VmRSS"].split()[0]) < 3 * 1024**2  # kB


def test_server_is_healthy_lists_models_and_rejects_another_model_name(endpoint):
    root = endpoint.base_url.removesuffix("/v1")
    with urllib.request.urlopen(f"{root}/health", timeout=10) as response:
        assert json.load(response) == {"status": "ok"}
    with urllib.request.urlopen(f"{endpoint.base_url}/models", timeout=60) as response:  # needs HF_HUB_CACHE
        assert json.load(response)["object"] == "list"
    wrong = LLMClient(endpoint.base_url, "not-this-model", max_retries=3, progress=False)
    (result,) = wrong.complete([user_messages("hi")])
    assert not result.ok and "400" in result.error and result.attempts == 1  # a client error is final


def test_without_continuous_batching_too_and_the_server_stops_when_the_block_ends(model_dir, reference):
    with transformers_serve(model_dir, continuous_batching=False, startup_timeout=180) as endpoint:
        port = int(endpoint.base_url.rsplit(":", 1)[1].split("/")[0])
        client = LLMClient(endpoint.base_url, endpoint.model, sampling={"max_tokens": MAX_TOKENS}, progress=False)
        assert client.complete_text(PROMPTS[:2]) == reference[:2]
    assert not Path(f"/proc/{endpoint.pid}").exists()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_a_server_that_cannot_start_fails_fast_with_its_log(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(RuntimeError, match=r"exited with code [1-9].*end of its log"), transformers_serve(tmp_path):
        pass
