"""`minipplug train`: its presets (one list, each with its own length rule) and, on the real offline models, a
run in automatic-length mode killed with SIGKILL and resumed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minipplug.cli.app import build_parser
from minipplug.cli.args import auto_length, run_config
from minipplug.config import PRESETS

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data_samples" / "lamp2_tags"
FILES = [
    "--train-questions",
    str(SAMPLE / "train_questions.json"),
    "--train-outputs",
    str(SAMPLE / "train_outputs.json"),
]


def subcommand(name: str):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[name]


@pytest.mark.parametrize("command", ["train", "predict", "demo", "compare"])
def test_preset_choices_and_help_list_exactly_the_presets(command: str) -> None:
    action = next(a for a in subcommand(command)._actions if a.dest == "preset")
    assert list(action.choices) == list(PRESETS)
    listed = re.findall(r"(?:\. |; )([a-z][a-z-]*): ", action.help)  # "name: what it is for", one per preset
    assert listed == list(PRESETS)
    for name, preset in PRESETS.items():
        assert f"{name}: {preset.about}" in action.help
    text = " ".join(subcommand(command).format_help().split())  # argparse wraps lines
    assert all(name in text for name in PRESETS)
    with pytest.raises(SystemExit):  # a name outside the list is refused by the parser itself
        build_parser().parse_args([command, "--preset", "cpu", "--out", "x", "--task", "LaMP_2", *FILES])


def length_rule(capsys, tmp_path: Path, *extra: str, config: dict | None = None):
    argv = ["train", "--task", "LaMP_2", *FILES, "--out", str(tmp_path / "o"), *extra]
    if config is not None:
        (tmp_path / "c.json").write_text(json.dumps(config))
        argv += ["--config", str(tmp_path / "c.json")]
    args = build_parser().parse_args(argv)
    cfg, preset, given = run_config(args, default_preset="cpu-auto")
    auto = auto_length(args, cfg, preset, given)
    return auto, cfg, capsys.readouterr().out


@pytest.mark.parametrize(
    "extra,config,epochs",
    [
        (("--preset", "cpu-fast"), None, 1.0),  # the 45-step settings, as they are
        (("--preset", "paper"), None, 2.0),  # the published recipe: 2 epochs, nothing held out
        (("--preset", "gpu-full"), None, 2.0),
        ((), {"preset": "paper"}, 2.0),  # a config file naming the preset
        (("--epochs", "3"), None, 3.0),  # cpu-auto with an epoch count given
        ((), {"epochs": 2}, 2.0),
    ],
)
def test_a_named_preset_or_a_given_epoch_count_trains_a_fixed_length(capsys, tmp_path, extra, config, epochs):
    auto, cfg, out = length_rule(capsys, tmp_path, *extra, config=config)
    assert auto is None and cfg.epochs == epochs
    assert f"length: {epochs:g} epochs" in out and "no validation split" in out


@pytest.mark.parametrize("extra", [(), ("--preset", "cpu-auto")])
def test_only_cpu_auto_chooses_its_length(capsys, tmp_path, extra) -> None:
    auto, _, out = length_rule(capsys, tmp_path, *extra, "--patience", "2", "--max-epochs", "5")
    assert auto is not None and (auto.patience, auto.max_epochs, auto.max_validation) == (2, 5.0, 256)
    assert "chosen on validation users" in out and "at most 256 questions" in out
    assert [n for n, p in PRESETS.items() if p.auto_length] == ["cpu-auto"]


def run_train(out: Path, *extra: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "minipplug", *auto_args(out), *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(),
    )


def env() -> dict:
    return dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_DISABLE_PROGRESS_BARS="1")


def auto_args(out: Path) -> list[str]:
    """Automatic length (cpu-auto, no --epochs) on the sample cut to 2 users: 1 trains (8 questions, 2 steps of 4
    per epoch), 1 validates (8 questions), a check after every step, at most 2 epochs."""
    return [
        "train",
        "--task",
        "LaMP_2",
        *FILES,
        "--out",
        str(out),
        "--max-train-examples",
        "16",
        "--batch-size",
        "4",
        "--validation-share",
        "0.5",
        "--max-epochs",
        "2",
        "--patience",
        "2",
        "--save-every",
        "1",
        "--precision",
        "fp32",
        "--quiet",
    ]


@pytest.mark.slow
def test_automatic_length_killed_with_sigkill_resumes_to_the_same_plug_and_stop(tmp_path: Path) -> None:
    """Killed after a save that holds at least one validation check: the resumed run keeps the same plug (bit for
    bit), stops at the same step for the same reason and keeps the same step's plug."""
    full = run_train(tmp_path / "full")
    assert full.returncode == 0, full.stderr
    summary = json.loads(full.stdout.strip().splitlines()[-1])
    assert "chosen on validation users" in full.stdout and summary["validation_checks"]

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "minipplug", *auto_args(out)],
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 600
    while not (out / "training_state.json").exists():  # the first periodic save (step 1, after its check)
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "no periodic save appeared"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    saved = json.loads((out / "training_state.json").read_text())
    assert 1 <= saved["step"] < summary["steps"] and saved["monitor"]["checks"]  # mid-run, after a check

    resumed = run_train(out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    again = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert again["steps"] == summary["steps"] and again["autostop"] == summary["autostop"]  # step, reason, kept
    assert again["validation_checks"] == summary["validation_checks"]
    assert (out / "plug.safetensors").read_bytes() == (tmp_path / "full" / "plug.safetensors").read_bytes()
    losses = [json.loads((d / "losses.json").read_text())["train"] for d in (tmp_path / "full", out)]
    assert losses[0] == losses[1]
