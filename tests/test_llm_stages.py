"""`seqit_utils.llm.stages`: SeqEval judging aggregates verdicts per model, seed and round, and the pairwise win rate
over both orders. The judge here is a scripted function at the `complete` boundary (a real `transformers serve`
judge runs in test_pipeline, where its verdicts are unparseable by design and so cannot check the arithmetic).
An endpoint that does not answer stops stages 03 and 04 with its URL (real local servers, the real client)."""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import socket
import socketserver
import threading

import pytest

from seqit_utils.config import load_config
from seqit_utils.evaluate import seqeval
from seqit_utils.llm import stages as llm_stages
from seqit_utils.llm.client import Result
from seqit_utils.sit import seq_instruct_stats


class ScriptedJudge:
    """Rates "good ..." answers [[Yes, 5]] and others [[No, 2]], except "garbled ..." (no verdict); pairwise it
    prefers the response that starts with "good" (a tie when both or neither do)."""

    def __init__(self):
        self.requests = 0

    def complete(self, conversations):
        self.requests += len(conversations)
        return [Result(text=self._reply(c[-1]["content"])) for c in conversations]

    @staticmethod
    def _reply(prompt: str) -> str:
        if "### Response A" in prompt:
            a, b = (re.search(rf"### Response {x}\n(.*?)\n\n###", prompt, re.S)[1] for x in "AB")
            good = (a.startswith("good"), b.startswith("good"))
            return "Reasoning. " + {(True, False): "[[A]]", (False, True): "[[B]]"}.get(good, "[[tie]]")
        response = prompt.split("### Response\n", 1)[1]
        if "garbled" in response:
            return "I cannot decide."
        return "[[Yes, 5]]" if "good answer" in response else "[[No, 2]]"


def sit_vs_it(config):
    """The smoke config with SeqEval's pairwise comparison on runs `sit` vs `it` (the answers' keys here)."""
    return config.model_copy(update={"seqeval": config.seqeval.model_copy(update={"pairwise": ["sit", "it"]})})


@pytest.fixture
def records():
    return [
        {"id": "q0", "instruction": "First list three fruits, then sort them.", "iteration": "1"},
        {"id": "q1", "instruction": "Translate it, then summarise it.", "input": "Bonjour", "iteration": 2},
        {"id": "q2", "instruction": "Write a title, then a poem.", "iteration": 2},
    ]


def test_judging_aggregates_per_model_seed_and_round_and_counts_unparseable(records):
    config = sit_vs_it(load_config("smoke"))
    answers = {
        "it": {0: ["bad one", "bad two", "garbled"], 1: ["bad", "bad", "bad"]},
        "sit": {0: ["good answer 1", "good answer 2", "bad"], 1: ["good answer", "good answer", "good answer"]},
    }
    judge = ScriptedJudge()
    result = llm_stages.judge_answers(config, records, answers, judge)
    assert judge.requests == 4 * 3 + 2 * 2 * 3  # single verdicts, then both orders per seed
    it0, sit0 = result["single"]["it"][0], result["single"]["sit"][0]
    assert (it0["n"], it0["n_parsed"], it0["n_unparseable"], it0["score"], it0["follow_rate"]) == (3, 2, 1, 2, 0)
    assert (sit0["score"], sit0["follow_rate"]) == (pytest.approx(4.0), pytest.approx(2 / 3))
    assert result["mean"]["sit"]["score"] == pytest.approx((4.0 + 5.0) / 2)
    assert result["by_iteration"]["sit"][0][1]["score"] == 5 and result["by_iteration"]["sit"][0][2]["n"] == 2
    # seed 0: sit wins q0, q1 and ties q2 ("bad" vs "garbled": neither good) -> 2.5/3; seed 1: 3 wins -> 1.0
    pair = result["pairwise"]
    assert (pair["model"], pair["reference"]) == ("sit", "it")
    assert pair["by_seed"][0]["win_rate"] == pytest.approx(2.5 / 3) and pair["by_seed"][1]["win_rate"] == 1.0
    assert result["mean"]["sit"]["win_rate"] == pytest.approx((2.5 / 3 + 1) / 2)
    assert "win_rate" not in result["mean"]["it"]
    assert [v["iteration"] for v in result["verdicts"][:3]] == [1, 2, 2]  # the published "1" becomes 1
    table = llm_stages.seqeval_table(result)
    assert "| sit | 6 | 4.50 | 0.83 | 0 | 0.92 vs it |" in table and "| it | 6 | 2.00 | 0.00 | 1 |  |" in table


def test_stage_records_names_the_missing_file_and_what_exists(tmp_path):
    config = sit_vs_it(load_config("smoke"))
    folder = tmp_path / "outputs" / "smoke" / "data" / "task_suite"
    folder.mkdir(parents=True)
    (folder / "eval_single.jsonl").write_text('{"id": "a", "instruction": "x"}\n{"id": "b", "instruction": "y"}\n')
    assert [r["id"] for r in llm_stages.stage_records(config, "task_suite/eval_single", 1, tmp_path)] == ["a"]
    with pytest.raises(FileNotFoundError, match=r"real/alpaca.jsonl: no such data file .* wrote: task_suite/eval_"):
        llm_stages.stage_records(config, "real/alpaca", None, tmp_path)


def test_recorded_agreement_reads_the_authors_files_or_says_why_not(monkeypatch, tmp_path, shared_data):
    config = sit_vs_it(load_config("smoke"))
    monkeypatch.delenv("SEQIT_DATA_DIR", raising=False)
    agreement, skipped = llm_stages.recorded_agreement(config)
    assert agreement == {} and "SEQIT_DATA_DIR" in skipped and "no hub copy" in skipped
    monkeypatch.setenv("SEQIT_DATA_DIR", str(tmp_path))
    assert str(tmp_path / "seqit_selfseq_samples" / "alpaca") in llm_stages.recorded_agreement(config)[1]
    monkeypatch.setenv("SEQIT_DATA_DIR", str(shared_data))
    agreement, skipped = llm_stages.recorded_agreement(config)
    assert skipped is None and len(agreement) == 24
    gpt4 = agreement["alpaca-cleaned-gpt-4-turbo-generate_instruct.jsonl"]
    assert (gpt4["n"], gpt4["n_instruction"]) == (100, 63)
    assert gpt4["option_agreement"] == gpt4["instruction_agreement"] == 1
    table = seq_instruct_stats.agreement_markdown(agreement)
    assert "| alpaca-cleaned-gpt-4-turbo-generate_instruct.jsonl | 100 | 1.000 | 63 | 1.000 |" in table
    assert "| alpaca-cleaned-gpt-4-turbo.jsonl | 100 | 1.000 | 0 | – |" in table
    llama = {k: v for k, v in agreement.items() if k == "alpaca-cleaned-Meta-Llama-3-8B-Instruct.jsonl"}
    (example,) = seq_instruct_stats.option_disagreements(llama, data_dir=shared_data)
    assert example.startswith("alpaca-cleaned-Meta-Llama-3-8B-Instruct.jsonl idx ") and "reply ends: " in example


def test_construction_report_counts_rewritten_and_held_items_per_round():
    def rewrite(records, options):  # rewrites every other item, holds the rest with a recorded reason
        out = []
        assert len(options) == len(records)
        for i, r in enumerate(records):
            new = f"First note it, then {r['instruction']}" if i % 2 == 0 else r["instruction"]
            out.append({**r, "instruction": new, "parent_instruction": r["instruction"], "reasons": {"n": i % 2}})
        return out

    records = [{"id": f"q{i}", "instruction": f"Task {i}."} for i in range(10)]
    built = seqeval.construct(records, rewrite, seed=0)
    report = llm_stages.construction_report(built).splitlines()
    assert report[0] == "constructed 10 items; per round {1: 1, 2: 2, 3: 3, 4: 4}"
    assert [line.split("; ")[1] for line in report[1:]] == ["rewritten 5/10"] * 4
    assert report[1].endswith("held because [\"{'n': 1}\"]")


def test_rounds_report_has_one_line_per_model_and_seed(records):
    bad, mixed = ["bad", "bad", "bad"], ["good answer", "bad", "garbled"]
    answers = {"it": {0: bad, 1: bad}, "sit": {0: mixed, 1: mixed}}
    result = llm_stages.judge_answers(sit_vs_it(load_config("smoke")), records, answers, ScriptedJudge())
    lines = llm_stages.rounds_report(result).splitlines()
    sit0 = "sit-0: round 1: score 5.0, follow 1.0 (1/1 parsed), round 2: score 2.0, follow 0.0 (1/2 parsed)"
    assert len(lines) == 4 and lines[2] == sit0 and lines[3].startswith("sit-1: ")
    assert lines[0].startswith("it-0: round 1: score 2.0")


# ---- an endpoint that does not answer: every LLM stage fails with its URL (issue 18: stage 03 exited 0, 100% D) ----


class _Closing(socketserver.BaseRequestHandler):
    """Accepts a connection and closes it without a byte: a server that is up but does not answer."""

    def handle(self):
        self.server.connections += 1


class _NotFound(http.server.BaseHTTPRequestHandler):
    """Answers every request with 404 (a wrong base_url path or an unknown model at OpenAI)."""

    def do_POST(self):
        self.server.connections += 1
        body = json.dumps({"error": {"message": "no such route"}}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _serving(handler):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads, server.connections = True, 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _refused_url() -> str:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens on it
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


@pytest.mark.parametrize("kind", ["refused", "closed", "404"])
def test_stage_03_and_the_judge_fail_with_the_url_when_the_endpoint_does_not_answer(kind, records):
    """Real HTTP servers on 127.0.0.1 and the real client; the first request goes alone, so a dead endpoint costs
    one request and its retries, and no record is silently "held"."""
    from seqit_utils.evaluate import judge
    from seqit_utils.llm.client import EndpointError, LLMClient
    from seqit_utils.sit import seq_instruct

    handler = {"closed": _Closing, "404": _NotFound}.get(kind)
    with contextlib.ExitStack() as stack:
        server, url = stack.enter_context(_serving(handler)) if handler else (None, _refused_url())
        client = LLMClient(url, "generator-model", max_retries=2, backoff=0.01, timeout=5, progress=False)
        with pytest.raises(EndpointError, match=re.escape(url)) as error:
            seq_instruct.run_seq_instruct(records, client.complete, iterations=1, seed=0)  # notebook 03's call
        assert "generator-model" in str(error.value) and "llm.endpoints" in str(error.value)
        if server is not None:
            assert server.connections == (1 if kind == "404" else 3)  # one request: 404 is final, the rest retried
        with pytest.raises(EndpointError, match=re.escape(url)):
            judge.judge_single(["q"], ["a"], llm_stages.texts(client))  # notebook 04's judge, the same client
