"""Generation backends on a real tiny model (briefly trained here so that it emits task-like text and EOS).

`OpenAIGenerator`'s request shape, input order, concurrency bound and key handling are checked against a minimal
OpenAI-compatible stdlib server on 127.0.0.1 (the real `openai` client sends real requests); a real
`transformers serve` endpoint is exercised in tests/test_serve.py.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from seqit_utils import prompts
from seqit_utils.data import tasks
from seqit_utils.evaluate.generate import (
    Generator,
    HFGenerator,
    OpenAIGenerator,
    default_device,
    local_generator,
    make_generator,
    truncate_at_stop,
)
from seqit_utils.train import tiny

SIZE = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
CAP = 24  # new tokens: enough for every answer of the suite's short lists


@pytest.fixture(scope="module", autouse=True)
def _single_thread(one_torch_thread):
    """Module-wide: the fixtures below train and load models."""


@pytest.fixture(scope="module")
def suite():
    return tasks.generate_suite(seed=0, n_train_per_task=20, n_train_sit=20, n_eval_per_split=5)


@pytest.fixture(scope="module")
def model_dir(suite, tmp_path_factory):
    """The tiny model after 150 steps of plain-torch training on prompt + output + EOS (~5 s on one core)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    records = suite["train_it"] + suite["train_sit_chains"]
    texts = [prompts.format_prompt(r["instruction"], r["input"], "alpaca_short") + r["output"] for r in records]
    out = tiny.build_tiny(
        texts, tmp_path_factory.mktemp("tiny"), seed=0, max_position_embeddings=256, vocab_size=400, **SIZE
    )
    tokenizer, model = AutoTokenizer.from_pretrained(out), AutoModelForCausalLM.from_pretrained(out)
    ids = [
        [tokenizer.bos_token_id, *tokenizer(t, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
        for t in texts
    ]
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(150):
        batch = [ids[i] for i in torch.randint(len(ids), (32,)).tolist()]
        x = torch.full((32, max(map(len, batch))), tokenizer.pad_token_id)
        for row, seq in enumerate(batch):
            x[row, : len(seq)] = torch.tensor(seq)
        model(
            input_ids=x,
            attention_mask=(x != tokenizer.pad_token_id).long(),
            labels=x.masked_fill(x == tokenizer.pad_token_id, -100),
        ).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def eval_prompts(suite):
    """Prompts of very different lengths: every eval split (1-4 steps), a bare instruction, a triple-length one."""
    records = [r for split, rs in suite.items() if split.startswith("eval") for r in rs]
    texts = [prompts.format_prompt(r["instruction"], r["input"], "alpaca_short") for r in records]
    return texts + ["### Instruction:\nSort.\n\n### Response:\n", texts[0] * 3]


@pytest.fixture(scope="module")
def generator(model_dir):
    return HFGenerator(model_dir, batch_size=8, max_new_tokens=CAP, stop=(), progress=False)


@pytest.fixture(scope="module")
def reference(generator, eval_prompts):
    """Ground truth without HFGenerator: plain `model.generate` on one unpadded prompt at a time."""
    import torch

    model, tokenizer, texts = generator.model, generator.tokenizer, []
    with torch.inference_mode():
        for prompt in eval_prompts:
            ids = torch.tensor([[tokenizer.bos_token_id, *tokenizer(prompt, add_special_tokens=False)["input_ids"]]])
            out = model.generate(
                ids,
                do_sample=False,
                max_new_tokens=CAP,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
            texts.append(tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True))
    return texts


def n_tokens(generator, text):
    return len(generator.tokenizer(text, add_special_tokens=False)["input_ids"])


def test_trained_model_gives_sensible_text_that_ends_with_eos(generator, reference):
    assert isinstance(generator, Generator)
    finished = [text for text in reference if n_tokens(generator, text) < CAP]
    assert len(finished) > len(reference) // 2  # most answers end with EOS well before the cap
    assert len({text for text in reference if text.strip()}) > 5  # not one degenerate string
    assert not any("</s>" in text or "<pad>" in text for text in reference)


def test_batched_greedy_equals_one_at_a_time(generator, eval_prompts, reference):
    lengths = [len(generator.encode(p)) for p in eval_prompts]
    assert max(lengths) > 3 * min(lengths)  # left padding really is exercised
    assert generator.generate(eval_prompts) == reference
    one = HFGenerator(generator.model, generator.tokenizer, batch_size=1, max_new_tokens=CAP, stop=(), progress=False)
    assert one.generate(eval_prompts) == reference


def test_order_is_restored_after_sorting_by_length(generator, eval_prompts, reference):
    order = list(range(len(eval_prompts)))
    random.Random(0).shuffle(order)
    shuffled = [eval_prompts[i] for i in order]
    assert generator.generate(shuffled) == [reference[i] for i in order]


def test_every_eos_id_of_the_generation_config_ends_the_answer(generator, eval_prompts, reference):
    # Instruction-tuned checkpoints list several EOS ids (Llama-3: </s>-like <|end_of_text|> and <|eot_id|>).
    tokenizer = generator.tokenizer
    word = next(
        w for text in reference for w in text.split()[1:] if len(tokenizer(w, add_special_tokens=False).input_ids) == 1
    )
    model = copy.deepcopy(generator.model)
    model.generation_config.eos_token_id = [
        tokenizer.eos_token_id,
        *tokenizer(word, add_special_tokens=False).input_ids,
    ]
    ended = HFGenerator(model, tokenizer, batch_size=8, max_new_tokens=CAP, stop=(), progress=False).generate(
        eval_prompts
    )
    assert ended != reference
    for text, full in zip(ended, reference, strict=True):
        assert full.startswith(text) and word not in text.split()


def test_max_new_tokens_is_a_hard_cap(generator, eval_prompts, reference):
    short = HFGenerator(generator.model, generator.tokenizer, batch_size=8, max_new_tokens=3, stop=(), progress=False)
    capped = short.generate(eval_prompts)
    assert any(n_tokens(generator, text) > 3 for text in reference)  # the cap binds somewhere
    for text, full in zip(capped, reference, strict=True):
        assert n_tokens(generator, text) <= 3
        assert full.startswith(text)


def test_stop_string_truncates_and_ends_decoding_early(generator, eval_prompts, reference, monkeypatch):
    # A stop string the model really emits in the middle of its output: the second item of a longer answer.
    stop = next(" " + text.split()[1] for text in reference if len(text.split()) >= 3)
    hits = [text for text in reference if stop in text]
    assert hits and all(text.find(stop) > 0 for text in hits)
    stopping = HFGenerator(
        generator.model, generator.tokenizer, batch_size=8, max_new_tokens=CAP, stop=(stop,), progress=False
    )
    assert stopping.generate(eval_prompts) == [truncate_at_stop(text, (stop,)) for text in reference]

    # Decoding ends once the stop string is out, not at EOS or the cap: count the model's forward passes.
    prompt = next(p for p, text in zip(eval_prompts, reference, strict=True) if stop in text)
    calls, forward = [], generator.model.forward

    def counting(*args, **kwargs):
        calls.append(1)
        return forward(*args, **kwargs)

    monkeypatch.setattr(generator.model, "forward", counting)
    steps = []
    for gen in (generator, stopping):
        calls.clear()
        gen.generate([prompt])
        steps.append(len(calls))
    assert steps[1] < steps[0]


def test_truncate_at_stop_cuts_at_the_earliest_stop():
    assert truncate_at_stop("a b\n\n### c ###", ("###", "\n\n")) == "a b"
    assert truncate_at_stop("a b", ("", "x")) == "a b"


def test_stop_strings_come_from_the_prompt_template(model_dir, eval_prompts, reference):
    """Alpaca layouts stop where a new "### Instruction:" block would start; Tulu must not (a Tulu answer may hold a
    markdown heading after a blank line) and stops at a new user or assistant turn instead."""
    answer = "Step 1: repeat.\n\n### Step 2\nsort it\n<|user|>\nnext question"
    alpaca, tulu = (local_generator(model_dir, t, batch_size=8, max_new_tokens=CAP) for t in ("alpaca_short", "tulu"))
    assert alpaca.stop == ("\n\n###",) and "\n\n###" not in "".join(tulu.stop)
    assert truncate_at_stop(answer, alpaca.stop) == "Step 1: repeat."
    assert truncate_at_stop(answer, tulu.stop) == "Step 1: repeat.\n\n### Step 2\nsort it\n"
    assert local_generator(model_dir, "chat").stop == ()  # a chat template ends turns with EOS ids
    # on the model: the template's stops cut the real outputs where those strings occur
    assert alpaca.generate(eval_prompts) == [truncate_at_stop(text, alpaca.stop) for text in reference]
    with pytest.raises(ValueError, match="allowed values: alpaca"):
        local_generator(model_dir, "vicuna")


def test_a_local_model_generates_on_the_default_device(model_dir):
    """Issue 18: generation ran on the CPU with a GPU present. The model now goes to `default_device()` (CUDA when
    available; this machine has no GPU, so here that is the CPU and the CUDA branch is not exercised)."""
    generator = local_generator(model_dir, "alpaca_short", max_new_tokens=CAP)
    assert generator.model.device.type == default_device()
    assert HFGenerator(model_dir, progress=False).model.device.type == default_device()


def test_two_runs_from_disk_are_identical(model_dir, eval_prompts):
    runs = [
        HFGenerator(model_dir, batch_size=16, max_new_tokens=CAP, progress=False).generate(eval_prompts)
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


def test_make_generator_builds_backends_and_names_allowed_values(model_dir):
    hf = make_generator({"backend": "hf", "model": str(model_dir), "batch_size": 4, "stop": ["\n"], "progress": False})
    assert isinstance(hf, HFGenerator) and hf.batch_size == 4 and hf.stop == ("\n",)
    api = make_generator({"backend": "openai", "base_url": "http://127.0.0.1:1/v1", "model": "m", "mode": "chat"})
    assert isinstance(api, OpenAIGenerator) and isinstance(api, Generator) and api.mode == "chat"
    with pytest.raises(ValueError, match="allowed values: hf, vllm, openai"):
        make_generator({"backend": "tgi"})
    if importlib.util.find_spec("vllm") is None:  # vLLM needs a GPU; here its absence must name the install
        with pytest.raises(RuntimeError, match=re.escape("pip install -e '.[gpu]' -c constraints-gpu.txt")):
            make_generator({"backend": "vllm", "model": str(model_dir), "max_new_tokens": 8})
    with pytest.raises(ValueError, match="'batch_size'.*allowed keys"):  # vLLM batches by itself
        make_generator({"backend": "vllm", "model": str(model_dir), "batch_size": 4})
    with pytest.raises(ValueError, match="'batch'.*allowed keys"):
        make_generator({"backend": "hf", "model": str(model_dir), "batch": 4})
    with pytest.raises(ValueError, match="allowed values: completions, chat"):
        make_generator({"backend": "openai", "base_url": "http://x", "model": "m", "mode": "edit"})


# ---- OpenAI-compatible endpoint (a stdlib server at the HTTP boundary; see the module docstring) ----

SECRET = "sk-test-9f8e7d6c5b4a"


class FakeOpenAI(BaseHTTPRequestHandler):
    """Answers /v1/completions and /v1/chat/completions with "echo: <prompt>" followed by a stop string and junk
    (like a server that does not strip stops). A prompt "slow <k>" sleeps k * 20 ms, so answers arrive out of order.
    """

    requests: list[dict] = []
    in_flight = peak = 0
    lock = threading.Lock()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cls = type(self)
        with cls.lock:
            cls.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            cls.in_flight += 1
            cls.peak = max(cls.peak, cls.in_flight)
        chat = self.path.endswith("/chat/completions")
        prompt = body["messages"][-1]["content"] if chat else body["prompt"]
        time.sleep(0.02 * int(prompt.split()[-1]) if prompt.startswith("slow") else 0)
        with cls.lock:
            cls.in_flight -= 1
        if body["model"] == "locked":
            return self.reply(401, {"error": {"message": "invalid api key", "type": "invalid_request_error"}})
        text = f"echo: {prompt}\n\n### Instruction: junk"
        choice = {"index": 0, "finish_reason": "stop", "logprobs": None}
        choice |= {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
        obj = "chat.completion" if chat else "text_completion"
        self.reply(200, {"id": "x", "object": obj, "created": 0, "model": body["model"], "choices": [choice]})

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    FakeOpenAI.requests, FakeOpenAI.in_flight, FakeOpenAI.peak = [], 0, 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("mode", ["completions", "chat"])
def test_openai_generator_sends_greedy_requests_and_keeps_input_order(server, mode, monkeypatch):
    monkeypatch.setenv("SEQIT_TEST_KEY", SECRET)
    gen = OpenAIGenerator(
        server, "tiny", api_key_env="SEQIT_TEST_KEY", mode=mode, max_new_tokens=7, concurrency=4, progress=False
    )
    prompt_list = [f"slow {k}" for k in (6, 1, 5, 0, 4, 2, 3, 6, 0, 1)]
    assert gen.generate(prompt_list) == [f"echo: {p}" for p in prompt_list]
    assert 2 <= FakeOpenAI.peak <= 4  # concurrent, and bounded
    assert len(FakeOpenAI.requests) == len(prompt_list)
    for request in FakeOpenAI.requests:
        assert request["path"] == f"/v1/{'chat/completions' if mode == 'chat' else 'completions'}"
        assert request["auth"] == f"Bearer {SECRET}"
        body = request["body"]
        assert body["model"] == "tiny" and body["max_tokens"] == 7
        assert body["temperature"] == 0 and body["stop"] == ["\n\n###"]
        if mode == "chat":  # the formatted prompt is one user message
            assert body["messages"] == [{"role": "user", "content": body["messages"][0]["content"]}]
    sent = [
        r["body"]["messages"][0]["content"] if mode == "chat" else r["body"]["prompt"] for r in FakeOpenAI.requests
    ]
    assert sorted(sent) == sorted(prompt_list)


def test_openai_key_never_shows_and_missing_key_names_the_variable(server, monkeypatch):
    monkeypatch.setenv("SEQIT_TEST_KEY", SECRET)
    gen = OpenAIGenerator(server, "locked", api_key_env="SEQIT_TEST_KEY", max_retries=0, progress=False)
    assert SECRET not in repr(gen) and SECRET not in str(gen) and "SEQIT_TEST_KEY" in repr(gen)
    with pytest.raises(Exception) as error:
        gen.generate(["hello"])
    assert "401" in str(error.value) and SECRET not in str(error.value) and SECRET not in repr(error.value)

    monkeypatch.delenv("SEQIT_TEST_KEY")
    remote = OpenAIGenerator("https://api.example.invalid/v1", "m", api_key_env="SEQIT_TEST_KEY")
    with pytest.raises(RuntimeError, match="SEQIT_TEST_KEY is not set"):
        remote.generate(["hello"])
    local = OpenAIGenerator(server, "tiny", api_key_env="SEQIT_TEST_KEY", progress=False)
    assert local.generate(["hello"]) == ["echo: hello"]
    assert FakeOpenAI.requests[-1]["auth"] == "Bearer EMPTY"  # local servers (vLLM, transformers serve) need none


def test_openai_generator_names_the_url_of_an_endpoint_that_does_not_answer():
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: the connection is refused
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    gen = OpenAIGenerator(url, "m", max_retries=0, timeout=5, progress=False)
    with pytest.raises(RuntimeError, match=re.escape(f"the endpoint {url} (model 'm') did not answer")):
        gen.generate(["hello", "again"])
