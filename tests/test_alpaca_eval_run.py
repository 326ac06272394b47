"""`seqit_utils.evaluate.alpaca_eval_run` on real AlpacaEval instructions and recorded outputs from ../shared/data.

The online path runs the real `alpaca_eval` package (its prompts, order randomisation, parsers, metrics, cache) and
the real `openai` client against a stdlib HTTP server on 127.0.0.1 speaking the OpenAI chat-completions JSON. That
server is a FAKE JUDGE at the HTTP boundary (GPT-4 cannot run here): it prefers whichever of the two outputs in the
prompt contains `MARKER` (with logprobs 0.9 / 0.1 when asked for logprobs, else "Output (a)"/"Output (b)") and calls
it a tie when neither does. We put the marker into our model's output (a win), into the reference output (a loss)
or into neither (a tie), so the win rate alpaca_eval must return follows from where the markers are.
"""

from __future__ import annotations

import json
import math
import statistics
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from seqit_utils.data.loaders import load_alpaca_eval
from seqit_utils.evaluate import alpaca_eval_run as run

MARKER = "SEQIT-MARKER-7F3A"
SECRET = "sk-seqit-alpaca-eval-test-5b9e21c4d07a"
KEY_ENV = "SEQIT_TEST_JUDGE_KEY"
# Where output_2 starts in the user message of each supported alpaca_eval prompt (the last occurrence: the
# `chatgpt` prompt shows a worked example first).
SECOND_OUTPUT = ('"model_identifier": "M"', "## Output (b):")
WIN, LOSS, TIE = (0, 3, 5, 6), (1, 7), (2, 4)  # item indices: marker in our output / in the reference / nowhere
N = 8


class FakeJudge(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.log: list[dict] = []
        self.lock = threading.Lock()
        self.break_ties = False  # answer tie items without the logprobs that were asked for

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    server: FakeJudge

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        anchor = max(prompt.rfind(a) for a in SECOND_OUTPUT)
        at = prompt.find(MARKER)
        winner = None if at < 0 else ("first" if at < anchor else "second")
        entry = {"path": self.path, "auth": self.headers.get("Authorization"), "body": body, "winner": winner}
        with self.server.lock:
            self.server.log.append(entry)
        if self.path != "/v1/chat/completions" or anchor < 0:
            return self.send(404, {"error": {"message": f"fake judge: unexpected request to {self.path}"}})
        if body.get("logprobs"):
            p_first = {"first": 0.9, "second": 0.1, None: 0.5}[winner]
            top = [{"token": "m", "logprob": math.log(p_first)}, {"token": "M", "logprob": math.log(1 - p_first)}]
            top = [{**t, "bytes": list(t["token"].encode())} for t in top]
            top.append({"token": "Both", "bytes": list(b"Both"), "logprob": -12.0})  # ignored by the parser
            token = "m" if p_first >= 0.5 else "M"
            logprobs = {
                "content": [{"token": token, "bytes": list(token.encode()), "logprob": -0.1, "top_logprobs": top}]
            }
            choice = {"index": 0, "finish_reason": "length", "logprobs": logprobs}
            if winner is None and self.server.break_ties:
                choice["logprobs"] = None
        else:
            token = {"first": "Output (a)", "second": "Output (b)"}[winner]
            choice = {"index": 0, "finish_reason": "stop", "logprobs": None}
        choice["message"] = {"role": "assistant", "content": token}
        usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": 1, "total_tokens": len(prompt.split()) + 1}
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"], "choices": [choice]}
        self.send(200, reply | {"usage": usage})

    def send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def judge_server():
    server = FakeJudge()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def marked(shared_data):
    """Real AlpacaEval instructions: text-davinci-003's outputs as 'our model', GPT-4-Turbo's as the reference
    (AlpacaEval 2.0's baseline), each marked per WIN / LOSS / TIE."""
    model = load_alpaca_eval(generator="text_davinci_003", data_dir=shared_data, limit=N)
    reference = load_alpaca_eval(generator=run.REFERENCE_GENERATOR, data_dir=shared_data, limit=N)
    assert [m["instruction"] for m in model] == [r["instruction"] for r in reference]
    assert not any(MARKER in r["instruction"] + r["output"] for r in model + reference)
    for i in WIN:
        model[i] = {**model[i], "output": f"{model[i]['output']}\n{MARKER}"}
    for i in LOSS:
        reference[i] = {**reference[i], "output": f"{reference[i]['output']}\n{MARKER}"}
    return model, reference


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """The key in the environment; $HOME and the working directory empty folders we can check afterwards."""
    monkeypatch.setenv(KEY_ENV, SECRET)
    for name in ("home", "cwd"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path / "cwd")
    return tmp_path


def _files(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*") if p.is_file())


def _package_files() -> dict[str, float]:
    folder = Path(run._alpaca_eval().__file__).parent
    return {str(p): p.stat().st_mtime for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_weighted_alpaca_eval_win_rate_follows_the_markers_and_the_key_is_in_no_file(judge_server, marked, isolated):
    model, reference = marked
    package_before = _package_files()
    out, cache = isolated / "out", isolated / "cache"
    kwargs = dict(base_url=judge_server.url, model="tiny-judge-instruct", api_key_env=KEY_ENV, cache_dir=cache)
    result = run.alpaca_eval_win_rate(model, reference, output_dir=out, **kwargs)

    # AlpacaEval 2.0 weighted preference: P(our output wins) = 0.9 / 0.1 / 0.5 per item, averaged
    scores = [0.9 if i in WIN else 0.1 if i in LOSS else 0.5 for i in range(N)]
    assert result["win_rate"] == pytest.approx(statistics.mean(scores))  # 0.6, as a fraction
    assert result["standard_error"] == pytest.approx(statistics.stdev(scores) / math.sqrt(N))
    assert (result["n_wins"], result["n_wins_base"], result["n_draws"], result["n_total"]) == (4, 2, 2, N)
    assert result["length_controlled_winrate"] is None
    assert (result["n"], result["generator"], result["reference_generator"]) == (
        N,
        "text_davinci_003",
        "gpt4_1106_preview",
    )

    # every request: chat API (although the name says "instruct"), our judge model, logprobs, the key from KEY_ENV
    assert len(judge_server.log) == N
    assert {e["path"] for e in judge_server.log} == {"/v1/chat/completions"}
    assert {(e["body"]["model"], e["body"]["logprobs"]) for e in judge_server.log} == {("tiny-judge-instruct", True)}
    assert {e["auth"] for e in judge_server.log} == {f"Bearer {SECRET}"}
    # alpaca_eval shuffled the positions (and undid the shuffle): our output was shown first and second
    assert {e["winner"] for e in judge_server.log} == {"first", "second", None}

    files = _files(out, cache)
    names = {p.name for p in files}
    assert {"annotations.json", "leaderboard.csv", "configs.yaml", "client_config.yaml", "prompt.txt"} <= names
    assert "annotations_seed0_configs.json" in names  # alpaca_eval's annotation cache, under our cache_dir
    assert not [p for p in files if SECRET.encode() in p.read_bytes()]
    assert KEY_ENV in (Path(result["annotators_config"]).parent / "client_config.yaml").read_text()
    annotations = json.loads(Path(result["files"]["annotations"]).read_text())
    assert [a["instruction"] for a in annotations] == [r["instruction"] for r in reference]
    assert [a["preference"] - 1 for a in annotations] == pytest.approx(scores)
    assert _files(isolated / "home", isolated / "cwd") == []
    assert _package_files() == package_before  # nothing written into site-packages/alpaca_eval

    again = run.alpaca_eval_win_rate(model, reference, output_dir=out, **kwargs)  # all from the cache
    assert len(judge_server.log) == N
    assert again["win_rate"] == pytest.approx(result["win_rate"])


def test_unparseable_replies_are_left_out_and_asked_again_next_run(judge_server, marked, isolated):
    model, reference = marked
    kwargs = dict(base_url=judge_server.url, model="judge", api_key_env=KEY_ENV, output_dir="out", cache_dir="cache")
    judge_server.break_ties = True
    partial = run.alpaca_eval_win_rate(model, reference, **kwargs)
    assert (partial["n"], partial["n_total"], partial["n_unannotated"]) == (N, N - len(TIE), len(TIE))
    assert partial["win_rate"] == pytest.approx((0.9 * len(WIN) + 0.1 * len(LOSS)) / (N - len(TIE)))
    judge_server.break_ties = False
    complete = run.alpaca_eval_win_rate(model, reference, **kwargs)
    assert len(judge_server.log) == N + len(TIE)  # only the unparsed pairs were sent again
    assert (complete["n_total"], complete["n_unannotated"]) == (N, 0)
    assert complete["win_rate"] == pytest.approx(0.6)


def test_plain_reply_annotator_and_a_separate_cache_per_judge(judge_server, marked, isolated):
    model, reference = marked
    decided = [i for i in range(N) if i not in TIE]  # a plain "Output (a)/(b)" reply cannot say tie
    model, reference = [model[i] for i in decided], [reference[i] for i in decided]
    kwargs = dict(base_url=judge_server.url, api_key_env=KEY_ENV, output_dir=isolated / "out")
    result = run.alpaca_eval_win_rate(
        model, reference, model="judge-a", annotator="chatgpt", cache_dir=isolated / "cache", **kwargs
    )
    assert result["win_rate"] == pytest.approx(len(WIN) / len(decided))
    assert (result["n_wins"], result["n_wins_base"], result["n_total"]) == (len(WIN), len(LOSS), len(decided))
    assert not any(e["body"].get("logprobs") for e in judge_server.log)
    # another judge model: its own config folder and cache, so it is asked again
    run.alpaca_eval_win_rate(
        model, reference, model="judge-b", annotator="chatgpt", cache_dir=isolated / "cache", **kwargs
    )
    assert len(judge_server.log) == 2 * len(decided)
    assert len([p for p in (isolated / "cache").iterdir() if p.name.startswith("chatgpt-")]) == 2


def test_missing_key_for_a_remote_judge_names_the_variable(marked, tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    model, reference = marked
    with pytest.raises(RuntimeError, match=KEY_ENV):
        run.alpaca_eval_win_rate(
            model, reference, base_url="https://judge.example.com/v1", model="gpt-4-1106-preview",
            api_key_env=KEY_ENV, output_dir=tmp_path / "out", cache_dir=tmp_path / "cache",
        )  # fmt: skip
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_bad_arguments_are_refused_before_any_request(judge_server, marked, isolated):
    model, reference = marked
    kwargs = dict(base_url=judge_server.url, model="m", api_key_env=KEY_ENV, output_dir="o", cache_dir="c")
    with pytest.raises(ValueError, match="805"):
        run.alpaca_eval_win_rate(model, reference, length_controlled=True, **kwargs)
    with pytest.raises(ValueError, match="not an alpaca_eval annotator config"):
        run.alpaca_eval_win_rate(model, reference, annotator="no_such_annotator", **kwargs)
    assert judge_server.log == []


def _slot(messages: list[dict], letter: str) -> str:
    content = messages[-1]["content"]
    start = content.index(f"### Response {letter}\n")
    return content[start : content.index("\n\n### ", start + 1)]


def marker_judge(requests: list[list[dict]]) -> list[str]:
    """A scripted `complete` for our App. B.5 judge: the response with the marker wins, else a tie."""
    return [
        "[[A]]" if MARKER in _slot(m, "A") else "[[B]]" if MARKER in _slot(m, "B") else "[[tie]]" for m in requests
    ]


def test_judge_win_rate_with_our_judge_both_orders(marked):
    model, reference = marked
    result = run.judge_win_rate(model[::-1], reference, marker_judge)  # matched by instruction, not position
    assert result["win_rate"] == pytest.approx((len(WIN) + 0.5 * len(TIE)) / N)
    assert (result["wins"], result["losses"], result["ties"], result["n_scored"]) == (4, 2, 2, N)
    assert result["outcomes"] == ["win" if i in WIN else "loss" if i in LOSS else "tie" for i in range(N)]
    assert (result["generator"], result["reference_generator"]) == ("text_davinci_003", "gpt4_1106_preview")
    # a position-biased judge is cancelled by the two orders
    assert run.judge_win_rate(model, reference, lambda requests: ["[[A]]"] * len(requests))["win_rate"] == 0.5


def test_pair_outputs_keeps_reference_order_and_refuses_unknown_or_duplicate_instructions(marked):
    model, reference = marked
    mine, theirs = run.pair_outputs([model[5], model[2]], reference)
    assert (
        [m["instruction"] for m in mine]
        == [r["instruction"] for r in theirs]
        == [
            reference[2]["instruction"],
            reference[5]["instruction"],
        ]
    )
    with pytest.raises(ValueError, match="no reference output"):
        run.pair_outputs([{"instruction": "not an AlpacaEval query", "output": "x"}], reference)
    with pytest.raises(ValueError, match="duplicate instruction"):
        run.pair_outputs([model[0], model[0]], reference)
    with pytest.raises(ValueError, match="'output' must be a string"):
        run.pair_outputs([{"instruction": model[0]["instruction"], "output": None}], reference)


def test_the_judge_key_is_checked_at_the_start(monkeypatch):
    """Issue 18: the key was found missing only at the end of the run. `check_judge_key` (called by
    `table5.evaluate_alpaca_eval` before any generation) fails at once naming the variable; a judge served here
    needs none."""
    from seqit_utils.config import load_config

    paper, smoke = load_config("paper"), load_config("smoke")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(RuntimeError, match="OPENAI_API_KEY is not set"):
        run.check_judge_key(paper)
    assert run.check_judge_key(smoke) is None  # `serve`: transformers serve on loopback
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    assert run.check_judge_key(paper) == "OPENAI_API_KEY"
