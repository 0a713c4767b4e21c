"""The command line, run as a user runs it: `python -m minipplug ...` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from minipplug.lamp.download import lamp_url
from minipplug.lamp.tasks import get_task

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data_samples"


def run_cli(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `python -m minipplug ARGS` with the test environment (hub offline)."""
    return subprocess.run(
        [sys.executable, "-m", "minipplug", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )


def assert_usage_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit status 2, nothing on stdout, ONE 'error: ...' line on stderr naming every fragment."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:"), lines[0]
    for frag in fragments:
        assert frag in lines[0], f"{frag!r} not in {lines[0]!r}"
    return lines[0]


def test_data_check(fixture_dir: Path, tmp_path: Path) -> None:
    q, o = fixture_dir / "LaMP_3" / "dev_questions.json", fixture_dir / "LaMP_3" / "dev_outputs.json"
    proc = run_cli("data", "check", "--task", "LaMP_3", "--questions", str(q), "--outputs", str(o), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    stats = json.loads(lines[0])
    assert {k: stats[k] for k in ["task", "examples", "profile_items_total", "profile_min", "profile_max"]} == {
        "task": "LaMP_3",
        "examples": 2,
        "profile_items_total": 4,
        "profile_min": 1,
        "profile_max": 3,
    }
    assert stats["with_targets"] == 2 and stats["users"] == 2


def test_data_check_alias_without_outputs(fixture_dir: Path, tmp_path: Path) -> None:
    q = fixture_dir / "LaMP_2" / "dev_questions.json"
    proc = run_cli("data", "check", "--task", "LaMP_2M", "--questions", str(q), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    assert (stats["task"], stats["examples"], stats["with_targets"], stats["profile_min"], stats["profile_max"]) == (
        "LaMP_2",
        2,
        0,
        0,
        2,
    )


def test_data_check_malformed(make_file: Callable[[str, Any], Path], tmp_path: Path) -> None:
    bad = make_file(
        "bad_questions.json",
        [
            {"id": "1", "input": "description: x", "profile": []},
            {"id": "2", "input": "description: y", "profile": [{"id": "p", "description": "d"}]},
        ],
    )
    proc = run_cli("data", "check", "--task", "LaMP_2", "--questions", str(bad), cwd=tmp_path)
    assert_usage_error(proc, str(bad), "record 1", "profile item 0", "'tag'")


def test_data_check_not_json(make_file: Callable[[str, Any], Path], tmp_path: Path) -> None:
    bad = make_file("broken.json", "[{]")
    assert_usage_error(
        run_cli("data", "check", "--task", "LaMP_2", "--questions", str(bad), cwd=tmp_path), str(bad), "JSON"
    )


def test_data_check_folder_instead_of_file(tmp_path: Path) -> None:
    assert_usage_error(
        run_cli("data", "check", "--task", "LaMP_2", "--questions", str(tmp_path), cwd=tmp_path), str(tmp_path)
    )


def test_data_check_ids_mismatch(fixture_dir: Path, make_file: Callable[[str, Any], Path], tmp_path: Path) -> None:
    q = fixture_dir / "LaMP_2" / "dev_questions.json"
    o = make_file("o.json", {"task": "LaMP_2", "golds": [{"id": "200", "output": "sci-fi"}]})
    proc = run_cli("data", "check", "--task", "LaMP_2", "--questions", str(q), "--outputs", str(o), cwd=tmp_path)
    assert_usage_error(proc, str(o), "'golds'", "'201'")


def test_unknown_task(fixture_dir: Path, tmp_path: Path) -> None:
    q = fixture_dir / "LaMP_2" / "dev_questions.json"
    assert_usage_error(run_cli("data", "check", "--task", "LaMP_9", "--questions", str(q), cwd=tmp_path), "LaMP_9")
    o = fixture_dir / "LaMP_2" / "dev_outputs.json"
    assert_usage_error(
        run_cli("eval", "--task", "LaMP_9", "--golds", str(o), "--preds", str(o), cwd=tmp_path), "LaMP_9"
    )


def _outputs(task: str, pairs: dict[str, str]) -> dict:
    return {"task": task, "golds": [{"id": k, "output": v} for k, v in pairs.items()]}


# (task, golds, preds, expected) with values computed by hand in test_metrics.py
EVAL_CASES = [
    (
        "LaMP_2",
        {"1": "comedy", "2": "comedy", "3": "action"},
        {"3": " action ", "1": "comedy", "2": "horror"},
        {"accuracy": 2 / 3, "f1": 1 / 9},
    ),
    ("LaMP_3", {"a": "5", "b": "2", "c": "3"}, {"a": "4", "b": " 2.5 ", "c": "x"}, {"MAE": 3.5 / 3, "RMSE": 1.75**0.5}),
    (
        "LaMP_4",
        {"1": "The cat is running fast", "2": "new bridge opens downtown"},
        {"1": "the cat run fast!", "2": "  Downtown bridge opens. "},
        {"rouge-1": 16 / 21, "rouge-L": 13 / 21},
    ),
]


@pytest.mark.parametrize("task,golds,preds,expected", EVAL_CASES, ids=["classification", "rating", "generation"])
def test_eval(
    make_file: Callable[[str, Any], Path],
    tmp_path: Path,
    task: str,
    golds: dict,
    preds: dict,
    expected: dict[str, float],
) -> None:
    g = make_file("golds.json", _outputs(task, golds))
    p = make_file("preds.json", _outputs(task, preds))
    proc = run_cli("eval", "--task", task, "--golds", str(g), "--preds", str(p), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert list(result) == list(expected)  # exactly the official keys, in order
    assert result == pytest.approx(expected, abs=1e-6)  # printed rounded to 6 decimals


def test_eval_ids_differ(make_file: Callable[[str, Any], Path], tmp_path: Path) -> None:
    g = make_file("golds.json", _outputs("LaMP_2", {"1": "comedy", "2": "action"}))
    p = make_file("preds.json", _outputs("LaMP_2", {"1": "comedy", "3": "action"}))
    proc = run_cli("eval", "--task", "LaMP_2", "--golds", str(g), "--preds", str(p), cwd=tmp_path)
    assert_usage_error(proc, str(p), "ids")


def test_eval_malformed_preds(make_file: Callable[[str, Any], Path], tmp_path: Path) -> None:
    g = make_file("golds.json", _outputs("LaMP_2", {"1": "comedy"}))
    p = make_file("preds.json", {"task": "LaMP_2", "predictions": []})
    proc = run_cli("eval", "--task", "LaMP_2", "--golds", str(g), "--preds", str(p), cwd=tmp_path)
    assert_usage_error(proc, str(p), "'golds'")


def test_make_samples_reproduces_committed_files(tmp_path: Path) -> None:
    out = tmp_path / "samples"
    proc = run_cli("data", "make-samples", "--out", str(out), cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    committed = sorted(p.relative_to(SAMPLES) for p in SAMPLES.rglob("*.json"))
    assert len(committed) == 25  # 5 datasets x (2 splits x 2 files + summary)
    assert sorted(p.relative_to(out) for p in out.rglob("*.json")) == committed
    for rel in committed:
        assert (out / rel).read_bytes() == (SAMPLES / rel).read_bytes(), rel
    # stdout: one JSON summary per dataset, the same as its summary.json
    summaries = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert [s["name"] for s in summaries] == [
        "lamp2_tags",
        "lamp3_ratings",
        "lamp7_style",
        "lamp4_sotu",
        "lamp2_kinds",
    ]
    for s in summaries:
        assert s == json.loads((SAMPLES / s["name"] / "summary.json").read_text())


def test_download_offline_fails_cleanly(tmp_path: Path) -> None:
    """No internet here: exit 2 with one line (no hang, no traceback) and nothing left in the target folder."""
    root = tmp_path / "lamp"
    proc = run_cli(
        "data", "download", "--task", "LaMP_3", "--split", "dev", "--root", str(root), cwd=tmp_path, timeout=60
    )
    assert_usage_error(
        proc, "cannot download", "https://ciir.cs.umass.edu/downloads/LaMP/LaMP_3/dev/dev_questions.json"
    )
    assert [p for p in root.rglob("*") if p.is_file()] == []  # no partial or temp file


def test_lamp_urls() -> None:
    base = "https://ciir.cs.umass.edu/downloads/LaMP"
    assert lamp_url(get_task("LaMP_3"), "dev", "questions") == f"{base}/LaMP_3/dev/dev_questions.json"
    assert lamp_url(get_task("LaMP_2M"), "train", "outputs") == f"{base}/LaMP_2/new/train/train_outputs.json"
    assert (
        lamp_url(get_task("LaMP_2"), "dev", "questions", time_based=True)
        == f"{base}/time/LaMP_2/new/dev/dev_questions.json"
    )
    assert lamp_url(get_task("LaMP_2N"), "dev", "outputs") == f"{base}/LaMP_2/dev/dev_outputs.json"
    assert (
        lamp_url(get_task("LaMP_7"), "test", "questions", time_based=True)
        == f"{base}/time/LaMP_7/test/test_questions.json"
    )
    with pytest.raises(ValueError):
        lamp_url(get_task("LaMP_3"), "test", "outputs")  # golds withheld
    with pytest.raises(ValueError):
        lamp_url(get_task("LaMP_3"), "validation", "questions")


def test_an_internal_bug_keeps_its_traceback(tmp_path: Path) -> None:
    # A ValueError deep in the code is a bug, not bad input: it must not be dressed up as `error: ...` / exit 2.
    code = (
        "import sys\n"
        "import minipplug.lamp.data as data\n"
        "def planted(*args, **kwargs):\n"
        "    raise ValueError('planted off-by-one')\n"
        "data.profile_stats = planted\n"
        "from minipplug.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    q = REPO / "data_samples" / "lamp2_tags" / "dev_questions.json"
    proc = subprocess.run(
        [sys.executable, "-c", code, "data", "check", "--task", "LaMP_2", "--questions", str(q)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "planted off-by-one" in proc.stderr and "error:" not in proc.stderr


# ------------------------------------------------------------------ user mistakes, found before any model loads
L3 = SAMPLES / "lamp3_ratings"


@pytest.mark.parametrize("bad", ["five", "0", "6", "nan", "inf", ""])
def test_lamp3_gold_must_be_a_rating(make_file: Callable[[str, Any], Path], tmp_path: Path, bad: str) -> None:
    outputs = json.loads((L3 / "dev_outputs.json").read_text())
    outputs["golds"][2]["output"] = bad
    o = make_file("outputs.json", outputs)
    q = str(L3 / "dev_questions.json")
    line = assert_usage_error(
        run_cli("data", "check", "--task", "LaMP_3", "--questions", q, "--outputs", str(o), cwd=tmp_path),
        str(o),
        "record 2",
        "'output'",
        "1 to 5",
    )
    assert repr(bad) in line
    # train refuses it too, before training (and before any model loads: well under the models' load time)
    out = tmp_path / "ckpt"
    proc = run_cli(
        "train", "--task", "LaMP_3", "--train-questions", q, "--train-outputs", str(o), "--out", str(out), cwd=tmp_path
    )
    assert_usage_error(proc, str(o), "record 2", "'output'")
    assert not out.exists()
    # eval refuses it as a gold, and scores it as an (unparsable) prediction
    good = L3 / "dev_outputs.json"
    assert_usage_error(
        run_cli("eval", "--task", "LaMP_3", "--golds", str(o), "--preds", str(good), cwd=tmp_path), str(o), "record 2"
    )


def test_classification_gold_must_be_a_label(make_file: Callable[[str, Any], Path], tmp_path: Path) -> None:
    q = SAMPLES / "lamp2_tags" / "dev_questions.json"
    outputs = json.loads((SAMPLES / "lamp2_tags" / "dev_outputs.json").read_text())
    outputs["golds"][0]["output"] = "spaghetti western"
    o = make_file("outputs.json", outputs)
    assert_usage_error(
        run_cli("data", "check", "--task", "LaMP_2", "--questions", str(q), "--outputs", str(o), cwd=tmp_path),
        str(o),
        "record 0",
        "'spaghetti western'",
        "label",
    )


@pytest.mark.parametrize("pred", ["nan", "inf", "-inf", "NaN", "five"])
def test_eval_never_prints_nan_or_infinity(make_file: Callable[[str, Any], Path], tmp_path: Path, pred: str) -> None:
    g = make_file("golds.json", _outputs("LaMP_3", {"a": "2", "b": "4"}))
    p = make_file("preds.json", _outputs("LaMP_3", {"a": pred, "b": "4"}))
    proc = run_cli("eval", "--task", "LaMP_3", "--golds", str(g), "--preds", str(p), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "NaN" not in proc.stdout and "Infinity" not in proc.stdout
    result = json.loads(proc.stdout)
    assert result == pytest.approx({"MAE": 1.5, "RMSE": 4.5**0.5})  # unparsable: 5 for a gold of 2 (LaMP's rule)


def _train(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    d = SAMPLES / "lamp2_tags"
    return run_cli(
        "train",
        "--task",
        "LaMP_2",
        "--train-questions",
        str(d / "train_questions.json"),
        "--train-outputs",
        str(d / "train_outputs.json"),
        *extra,
        cwd=tmp_path,
    )


@pytest.mark.parametrize(
    "config,field,problem",
    [
        ({"lr": "fast"}, "'lr'", "a number"),
        ({"batch_size": 2.5}, "'batch_size'", "a whole number"),
        ({"progress": "yes"}, "'progress'", "true or false"),
        ({"llm": 7}, "'llm'", "a string"),
        ({"extra": [1, 2]}, "'extra'", "an object"),
        ({"epochs": True}, "'epochs'", "a number"),
        ({"speed": 1}, "speed", "unknown"),
    ],
)
def test_config_field_types(
    make_file: Callable[[str, Any], Path], tmp_path: Path, config: dict, field: str, problem: str
) -> None:
    c = make_file("cfg.json", config)
    assert_usage_error(_train(tmp_path, "--out", str(tmp_path / "o"), "--config", str(c)), str(c), field, problem)


def test_every_config_field_type_is_checked() -> None:
    import dataclasses

    from minipplug.config import PPlugConfig
    from minipplug.errors import InputError

    cfg = PPlugConfig()
    for f in dataclasses.fields(cfg):
        default = getattr(cfg, f.name)
        wrong = [1, 1.5] if isinstance(default, (str, dict, bool)) else ["x"]
        if isinstance(default, int) and not isinstance(default, bool):
            wrong = ["x", 1.5, True]
        for value in wrong:
            with pytest.raises(InputError, match=f"'{f.name}'"):
                cfg.replace(**{f.name: value})
        assert getattr(cfg.replace(**{f.name: default}), f.name) == default


@pytest.mark.parametrize(
    "flag,value,problem",
    [
        ("--batch-size", "0", "at least 1"),
        ("--epochs", "0", "above 0"),
        ("--epochs", "nan", "above 0"),
        ("--max-train-examples", "-1", "at least 0"),
        ("--save-every", "0", "at least 1"),
    ],
)
def test_bad_numbers_are_usage_errors(tmp_path: Path, flag: str, value: str, problem: str) -> None:
    proc = _train(tmp_path, "--out", str(tmp_path / "o"), flag, value)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert flag in proc.stderr and problem in proc.stderr


def test_train_out_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "taken"
    f.write_text("x")
    assert_usage_error(_train(tmp_path, "--out", str(f)), str(f), "existing file")


def _checkpoint(tmp_path: Path, damage: str) -> Path:
    """A plug checkpoint folder (tiny weights and a valid config) with one file damaged."""
    import torch
    from safetensors.torch import save_file

    from minipplug.config import PPlugConfig

    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    info = {"config": PPlugConfig().to_dict(), "encoder_dim": 384, "llm_dim": 576, "scale": 1.0, "method": "pplug"}
    (ckpt / "plug_config.json").write_text(json.dumps(info))
    save_file({"instruction.vector": torch.zeros(384)}, str(ckpt / "plug.safetensors"))
    weights, conf = ckpt / "plug.safetensors", ckpt / "plug_config.json"
    if damage == "truncated weights":
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "no weights":
        weights.unlink()
    elif damage == "config is a list":
        conf.write_text("[1, 2]")
    elif damage == "config not JSON":
        conf.write_text("{config: ")
    elif damage == "config lacks keys":
        conf.write_text(json.dumps({"config": {}}))
    elif damage == "config field type":
        conf.write_text(json.dumps({**info, "config": {"lr": "fast"}}))
    return weights if "weights" in damage else conf


@pytest.mark.parametrize(
    "damage",
    [
        "truncated weights",
        "no weights",
        "config is a list",
        "config not JSON",
        "config lacks keys",
        "config field type",
    ],
)
def test_corrupt_checkpoint_is_one_line_naming_the_file(tmp_path: Path, damage: str) -> None:
    bad = _checkpoint(tmp_path, damage)
    d = SAMPLES / "lamp2_tags"
    proc = run_cli(
        "predict",
        "--questions",
        str(d / "dev_questions.json"),
        "--checkpoint",
        str(tmp_path / "ckpt"),
        "--out",
        str(tmp_path / "p.json"),
        cwd=tmp_path,
    )
    assert_usage_error(proc, str(bad))


def test_lora_per_user_is_refused_by_predict(tmp_path: Path) -> None:
    d = SAMPLES / "lamp2_tags"
    proc = run_cli(
        "predict",
        "--questions",
        str(d / "dev_questions.json"),
        "--method",
        "lora-per-user",
        "--out",
        str(tmp_path / "p.json"),
        cwd=tmp_path,
    )
    assert_usage_error(proc, "lora-per-user", "compare")


def test_every_method_name_is_run_or_refused(tmp_path: Path) -> None:
    """predict without a checkpoint: each plug method is refused naming --checkpoint, each rule naming compare, an
    unknown name is refused; what remains (non-personalized and the retrieval baselines) runs for real in
    test_commands.py."""
    from minipplug.engine.methods import METHODS, RULES

    d = SAMPLES / "lamp2_tags"
    plug_methods = [n for n, m in METHODS.items() if m.plug_method]
    assert set(METHODS) - set(plug_methods) - set(RULES) == {"non-personalized", "lora-per-user"}
    questions = ["--questions", str(d / "dev_questions.json")]
    for name in RULES:
        proc = run_cli("predict", *questions, "--method", name, "--out", str(tmp_path / "p.json"), cwd=tmp_path)
        assert_usage_error(proc, name, "without the LLM", "minipplug compare")
    for name in [*plug_methods, "no-such-method"]:
        proc = run_cli(
            "predict",
            "--questions",
            str(d / "dev_questions.json"),
            "--method",
            name,
            "--out",
            str(tmp_path / "p.json"),
            cwd=tmp_path,
        )
        assert_usage_error(proc, "--checkpoint" if name in plug_methods else name)


def test_compare_refuses_a_checkpoint_trained_with_another_soft_position(tmp_path: Path) -> None:
    # A plug trained by `train` (preset cpu-auto: soft tokens at the start) reused by compare (cpu-fast: before
    # the input) would be read at the wrong place; compare names the difference and the preset that fits.
    from minipplug.config import PPlugConfig

    ckpt = tmp_path / "plug"
    ckpt.mkdir()
    cfg = PPlugConfig.preset("cpu-auto").to_dict()
    info = {"config": cfg, "encoder_dim": 384, "llm_dim": 576, "scale": 1.0}
    (ckpt / "plug_config.json").write_text(json.dumps(info))
    proc = run_cli(
        "compare", "--checkpoint", str(ckpt), "--methods", "pplug", "--out", str(tmp_path / "c"), cwd=tmp_path
    )
    assert_usage_error(proc, str(ckpt), "soft_position='start'", "soft_position='input'", "--preset cpu-auto")
    assert not (tmp_path / "c").exists()


def test_a_bad_thread_count_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    # One reader of $MINIPPLUG_THREADS for the CLI and the notebooks: a bad value is refused (exit 2) before any
    # model loads, never silently ignored.
    d = SAMPLES / "lamp2_tags"
    args = ["predict", "--questions", str(d / "dev_questions.json"), "--method", "non-personalized"]
    env = {**os.environ, "MINIPPLUG_THREADS": "two"}
    proc = subprocess.run(
        [sys.executable, "-m", "minipplug", *args, "--out", str(tmp_path / "p.json")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert_usage_error(proc, "$MINIPPLUG_THREADS", "'two'")
    assert not (tmp_path / "p.json").exists()
