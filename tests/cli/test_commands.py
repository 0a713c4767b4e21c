"""The model commands end to end on the real offline models, kept tiny (a few training steps)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data_samples" / "lamp2_tags"
SAMPLE_FILES = [  # train's file arguments for the LaMP_2-style sample
    arg
    for split in ("train", "dev")
    for kind in ("questions", "outputs")
    for arg in (f"--{split}-{kind}", str(SAMPLE / f"{split}_{kind}.json"))
]


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    return subprocess.run(
        [sys.executable, "-m", "minipplug", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A plug trained for 2 steps of batch 4 on the LaMP_2-style sample."""
    out = tmp_path_factory.mktemp("ckpt") / "plug"
    r = run_cli(
        "train",
        "--task",
        "LaMP-2",
        *SAMPLE_FILES,
        "--max-dev-examples",
        "4",
        "--out",
        str(out),
        "--max-train-examples",
        "8",
        "--batch-size",
        "4",
        "--epochs",
        "1",
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    assert "recipe: preset 'cpu-auto'" in r.stdout  # train says which recipe it starts from
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 2 and summary["task"] == "LaMP_2"
    assert set(summary["dev"]) >= {"method", "accuracy", "f1", "prompt_tokens_mean", "seconds_per_example"}
    return out


@pytest.mark.slow
def test_train_writes_only_the_plug(trained: Path) -> None:
    files = {p.name for p in trained.iterdir()}
    assert {"plug.safetensors", "plug_config.json", "loss.png", "losses.json", "training_state.safetensors"} <= files
    info = json.loads((trained / "plug_config.json").read_text())
    assert info["config"]["llm"] == "SmolLM2-135M-Instruct" and info["config"]["encoder"] == "all-MiniLM-L6-v2"
    assert info["llm_dim"] == 576 and info["encoder_dim"] == 384
    # Without --preset, train starts from the "cpu-auto" preset (so do the demo and, at a fixed length, the notebooks).
    cpu = {"soft_position": "start", "temperature": 0.05, "lr": 3e-3, "train_input_encoder": False}
    assert {k: info["config"][k] for k in cpu} == cpu
    from safetensors import safe_open

    with safe_open(str(trained / "plug.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert keys and not any(k.startswith(("model.", "lm_head")) for k in keys)  # no LLM weight in a plug


@pytest.mark.slow
@pytest.mark.parametrize("method,decoding", [("pplug", "generate"), ("bm25-k4", "rank"), ("non-personalized", "rank")])
def test_predict_writes_official_format(trained: Path, tmp_path: Path, method: str, decoding: str) -> None:
    questions = json.loads((SAMPLE / "dev_questions.json").read_text())[:3]
    golds = json.loads((SAMPLE / "dev_outputs.json").read_text())
    q, o = tmp_path / "q.json", tmp_path / "o.json"
    q.write_text(json.dumps(questions))
    o.write_text(json.dumps({"task": "LaMP_2", "golds": golds["golds"][:3]}))
    out = tmp_path / "preds.json"
    r = run_cli(
        "predict",
        "--checkpoint",
        str(trained),
        "--questions",
        str(q),
        "--outputs",
        str(o),
        "--out",
        str(out),
        "--method",
        method,
        "--decoding",
        decoding,
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    preds = json.loads(out.read_text())
    assert preds["task"] == "LaMP_2" and [p["id"] for p in preds["golds"]] == [x["id"] for x in questions]
    row = json.loads(r.stdout.strip().splitlines()[-1])
    assert row["method"] == method and row["decoding"] == decoding
    if decoding == "rank":  # label ranking always answers with a label of the task
        from minipplug.lamp.tasks import LAMP2_TAGS

        assert all(p["output"] in LAMP2_TAGS for p in preds["golds"])
    # The printed metrics are those of the official scorer on the written file.
    r2 = run_cli("eval", "--task", "LaMP_2", "--golds", str(o), "--preds", str(out))
    assert json.loads(r2.stdout)["accuracy"] == pytest.approx(row["accuracy"], abs=1e-4)


@pytest.mark.slow
def test_predict_without_checkpoint_for_a_plug_method_is_a_usage_error(tmp_path: Path) -> None:
    r = run_cli(
        "predict",
        "--task",
        "LaMP_2",
        "--questions",
        str(SAMPLE / "dev_questions.json"),
        "--out",
        str(tmp_path / "p.json"),
        "--method",
        "pplug",
    )
    assert (
        r.returncode == 2
        and r.stderr.startswith("error:")
        and "--checkpoint" in r.stderr
        and "Traceback" not in r.stderr
    )


def test_predict_refuses_a_plug_trained_as_another_method(trained: Path, tmp_path: Path) -> None:
    for method in ["pplug-no-history", "pplug-top4", "pplug+retrieval"]:
        r = run_cli(
            "predict",
            "--checkpoint",
            str(trained),
            "--questions",
            str(SAMPLE / "dev_questions.json"),
            "--out",
            str(tmp_path / "p.json"),
            "--method",
            method,
        )
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
        assert f"trained as pplug, not {method}" in r.stderr and f"train --method {method}" in r.stderr
    assert not (tmp_path / "p.json").exists()


@pytest.mark.slow
def test_train_a_variant_then_predict_with_it(tmp_path: Path) -> None:
    out = tmp_path / "top4"
    r = run_cli(
        "train",
        "--task",
        "LaMP_2",
        "--method",
        "pplug-top4",
        *SAMPLE_FILES,
        "--max-dev-examples",
        "2",
        "--out",
        str(out),
        "--max-train-examples",
        "4",
        "--batch-size",
        "4",
        "--epochs",
        "1",
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["method"] == "pplug-top4" and summary["dev"]["method"] == "pplug-top4"
    info = json.loads((out / "plug_config.json").read_text())
    assert info["method"] == "pplug-top4" and (info["config"]["aggregation"], info["config"]["top_k"]) == ("topk", 4)
    q, o = tmp_path / "q.json", tmp_path / "o.json"
    q.write_text(json.dumps(json.loads((SAMPLE / "dev_questions.json").read_text())[:2]))
    o.write_text(
        json.dumps({"task": "LaMP_2", "golds": json.loads((SAMPLE / "dev_outputs.json").read_text())["golds"][:2]})
    )
    r = run_cli(
        "predict",
        "--checkpoint",
        str(out),
        "--questions",
        str(q),
        "--outputs",
        str(o),
        "--out",
        str(tmp_path / "p.json"),
        "--method",
        "pplug-top4",
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["method"] == "pplug-top4"


def test_train_bad_input_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "train_questions.json"
    bad.write_text(json.dumps([{"id": "1", "input": "x", "profile": [{"id": "p", "description": "d"}]}]))
    r = run_cli(
        "train",
        "--task",
        "LaMP_2",
        "--train-questions",
        str(bad),
        "--train-outputs",
        str(SAMPLE / "train_outputs.json"),
        "--out",
        str(tmp_path / "ck"),
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "record 0, profile item 0" in r.stderr and "'tag'" in r.stderr
    assert not (tmp_path / "ck").exists()


def test_unknown_config_field_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"learning_rate": 1e-3}))
    r = run_cli(
        "train",
        "--task",
        "LaMP_2",
        *SAMPLE_FILES[:4],  # the training files only
        "--out",
        str(tmp_path / "ck"),
        "--config",
        str(cfg),
    )
    assert r.returncode == 2 and "learning_rate" in r.stderr


@pytest.mark.slow
def test_demo_writes_results_rows(tmp_path: Path) -> None:
    from minipplug.config import PPlugConfig
    from minipplug.engine.train import pick_precision

    out = tmp_path / "demo"
    r = run_cli(
        "demo",
        "--out",
        str(out),
        "--max-train-examples",
        "24",  # at least two users: one is held out to choose the length (cpu-auto, the demo's default)
        "--max-epochs",
        "1",
        "--max-dev-examples",
        "2",
        "--batch-size",
        "4",
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    # the automatic length, or on a CPU without native bf16 notebook 03's fixed fp32 length (demo_length)
    fp32 = pick_precision(PPlugConfig.preset("cpu-auto")) == "no"
    length = "length: 1.5 epochs" if fp32 else "length: chosen on validation users"
    assert "recipe: preset 'cpu-auto'" in r.stdout and length in r.stdout
    rows = json.loads((out / "results.json").read_text())
    rules = ["rule-input-only", "rule-history-majority", "rule-top1-retrieved"]
    llm_rows = ["pplug", "pplug-swapped-history", "pplug-no-history", "non-personalized"]
    assert [row["method"] for row in rows] == llm_rows + rules
    assert len({row["examples"] for row in rows}) == 1  # every row on the same dev questions (two users)
    for row in rows:
        decoding = "none" if row["method"] in rules else "generate"  # a rule reads no LLM
        assert row["task"] == "LaMP_2" and row["split"] == "dev" and row["decoding"] == decoding
        assert {"accuracy", "f1", "prompt_tokens_mean", "seconds_per_example"} <= set(row)
    # The prompt grows by exactly the soft tokens (4 instruction + 4 user tokens by default).
    assert rows[0]["prompt_tokens_mean"] - rows[3]["prompt_tokens_mean"] == pytest.approx(8.0)
    assert (out / "loss.png").stat().st_size > 0 and (out / "plugs" / "pplug" / "plug.safetensors").exists()


def _train_args(out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--task",
        "LaMP_2",
        *SAMPLE_FILES[:4],  # the training files only
        "--out",
        str(out),
        "--max-train-examples",
        "4",
        "--batch-size",
        "2",
        "--epochs",
        "2",
        "--save-every",
        "1",
        "--precision",
        "fp32",
        "--quiet",
        *extra,
    ]


@pytest.mark.slow
def test_train_killed_with_sigkill_resumes_to_the_same_plug(tmp_path: Path) -> None:
    """A real `minipplug train` killed with SIGKILL after its first periodic save, then --resume: the plug is
    bit for bit the one an uninterrupted run trains (4 steps of batch 2 on the real SmolLM2 and MiniLM)."""
    import signal
    import time

    from safetensors.torch import load_file

    full = run_cli(*_train_args(tmp_path / "full"), timeout=900)
    assert full.returncode == 0, full.stderr
    assert json.loads(full.stdout.strip().splitlines()[-1])["steps"] == 4

    out = tmp_path / "killed"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "minipplug", *_train_args(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 600
    while not (out / "training_state.json").exists():  # the first periodic save (step 1) has landed
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "no periodic save appeared"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    step = json.loads((out / "training_state.json").read_text())["step"]
    assert 1 <= step < 4  # interrupted mid-run

    resumed = run_cli(*_train_args(out, "--resume"), timeout=900)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["steps"] == 4
    assert (out / "plug.safetensors").read_bytes() == (tmp_path / "full" / "plug.safetensors").read_bytes()
    a, b = load_file(str(tmp_path / "full" / "plug.safetensors")), load_file(str(out / "plug.safetensors"))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)
    losses = [json.loads((d / "losses.json").read_text())["train"] for d in (tmp_path / "full", out)]
    assert losses[0] == losses[1]


def test_resume_without_a_state_is_one_line_before_any_model_loads(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    r = run_cli(*_train_args(tmp_path / "empty", "--resume"), timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert "no training state" in r.stderr and str(tmp_path / "empty") in r.stderr
    (tmp_path / "afile").write_text("x")
    r = run_cli(*_train_args(tmp_path / "afile"), timeout=120)
    assert r.returncode == 2 and "existing file" in r.stderr and str(tmp_path / "afile") in r.stderr


@pytest.mark.slow
def test_predict_with_a_swapped_history_runs_the_pplug_checkpoint(trained: Path, tmp_path: Path) -> None:
    questions = json.loads((SAMPLE / "dev_questions.json").read_text())[::4][:3]  # three users' first questions
    ids = {q["id"] for q in questions}
    golds = [g for g in json.loads((SAMPLE / "dev_outputs.json").read_text())["golds"] if g["id"] in ids]
    q, o = tmp_path / "q.json", tmp_path / "o.json"
    q.write_text(json.dumps(questions))
    o.write_text(json.dumps({"task": "LaMP_2", "golds": golds}))
    args = ["--checkpoint", str(trained), "--questions", str(q), "--outputs", str(o), "--quiet"]
    r = run_cli("predict", *args, "--out", str(tmp_path / "p.json"), "--method", "pplug-swapped-history")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout.strip().splitlines()[-1])
    assert row["method"] == "pplug-swapped-history" and row["examples"] == 3
    assert len(json.loads((tmp_path / "p.json").read_text())["golds"]) == 3
    # One user's questions alone cannot be deranged: a one-line error, no traceback.
    q.write_text(json.dumps(questions[:1]))
    o.write_text(json.dumps({"task": "LaMP_2", "golds": golds[:1]}))
    r = run_cli("predict", *args, "--out", str(tmp_path / "p1.json"), "--method", "pplug-swapped-history")
    assert r.returncode == 2 and "at least 2 users" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("damage", ["truncated tensors", "json not json", "pickled legacy state"])
def test_resume_from_a_corrupt_or_pickled_state_is_one_line(tmp_path: Path, damage: str) -> None:
    import pickle

    import torch
    from safetensors.torch import save_file

    out = tmp_path / "ckpt"
    out.mkdir()
    marker = tmp_path / "pwned"
    save_file({"plug.x": torch.zeros(100)}, str(out / "training_state.safetensors"))
    (out / "training_state.json").write_text("{}")
    if damage == "truncated tensors":
        bad = out / "training_state.safetensors"
        bad.write_bytes(bad.read_bytes()[:50])
    elif damage == "json not json":
        bad = out / "training_state.json"
        bad.write_text("{step: ")
    else:
        for f in out.iterdir():
            f.unlink()
        bad = out / "training_state.pt"

        class Payload:
            def __reduce__(self):
                return (os.system, (f"touch {marker}",))

        bad.write_bytes(pickle.dumps({"plug": Payload()}))
    r = run_cli(*_train_args(out, "--resume"), timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and str(bad) in r.stderr
    assert not marker.exists()


def test_the_demo_trains_notebook_03s_fp32_length_on_a_cpu_without_bf16(monkeypatch, capsys) -> None:
    """Where precision auto falls back to fp32 on this CPU the demo's cap would stop each plug early: fixed length."""
    import importlib

    from minipplug.cli.app import build_parser
    from minipplug.cli.args import run_config
    from minipplug.cli.model_commands import DEMO_MINUTES, demo_length
    from minipplug.config import PPlugConfig
    from minipplug.course.notebook import FAST_SIZES

    train = importlib.import_module("minipplug.engine.train")  # the module (the package exports a function train)
    monkeypatch.setattr(train, "_cpu_only", lambda: True)

    def length(*flags: str, bf16: bool):
        monkeypatch.setattr(train, "cpu_has_bf16", lambda *a: bf16)
        args = build_parser().parse_args(["demo", *flags])
        cfg, preset, given = run_config(args, default_preset="cpu-auto")
        return demo_length(args, cfg, preset, given)

    cfg, auto = length(bf16=False)
    assert auto is None and cfg.epochs == FAST_SIZES["no"].epochs == 1.5
    assert "no native bf16" in capsys.readouterr().out
    cfg, auto = length(bf16=True)  # native bf16: the automatic length under the demo's cap
    assert auto is not None and auto.max_seconds == 60 * DEMO_MINUTES
    assert length("--max-minutes", "30", bf16=False)[1].max_seconds == 1800  # the user's cap: automatic length
    cfg, auto = length("--epochs", "2", bf16=False)
    assert auto is None and cfg.epochs == 2.0
    cfg, auto = length("--preset", "cpu-fast", bf16=False)  # a preset of fixed length trains its own epochs
    assert auto is None and cfg.epochs == PPlugConfig.preset("cpu-fast").epochs
