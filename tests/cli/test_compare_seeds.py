"""`minipplug compare --seeds` through the CLI's own entry point, with the tiny random models in place of the real
ones (the command's code path is the same; only load_stack is swapped): two seeds, six questions, four methods."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pplug_tiny import tiny_config, tiny_llama, tiny_sentence_encoder

from minipplug.cli.app import main

METHODS = ["rule-history-majority", "bm25-k1", "pplug", "pplug-mean-pooling"]


@pytest.fixture
def tiny_models(monkeypatch) -> list:
    """load_stack returns the tiny models with the run's task, seed and sizes; the configs it was given."""
    from minipplug.engine import stack as stack_module
    from minipplug.model.encoder import HistoryEncoder
    from minipplug.model.injection import PPlugLM

    given = []

    def load_stack(cfg, *args, **kwargs):
        given.append(cfg)
        enc = tiny_sentence_encoder()
        sizes = {k: getattr(cfg, k) for k in ("task", "seed", "max_train_examples", "epochs", "batch_size")}
        plm = PPlugLM(tiny_llama(), True, 256, "input")
        return stack_module.Stack(tiny_config(**sizes), plm, enc, HistoryEncoder(enc, "tiny-bert"))

    monkeypatch.setattr(stack_module, "load_stack", load_stack)
    return given


def test_compare_seeds_writes_a_summary_that_agrees_with_each_seeds_rows(tiny_models, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    sizes = ["--max-train-examples", "8", "--max-dev-examples", "6", "--epochs", "1", "--batch-size", "4"]
    assert main(["compare", "--seeds", "3", "1", "--methods", *METHODS, *sizes, "--out", str(out), "--quiet"]) == 0
    for name in ["seeds.jsonl", "summary.json", "summary.md", "summary.png", "claims.md"]:
        assert (out / name).stat().st_size > 0, name
    per_seed = {s: json.loads((out / f"seed{s}" / "results.json").read_text()) for s in (3, 1)}
    assert all((out / f"seed{s}" / "plugs" / "pplug" / "plug.safetensors").exists() for s in (3, 1))
    # seeds.jsonl: each seed's rows as its own results.json holds them, with the seed.
    lines = [json.loads(line) for line in (out / "seeds.jsonl").read_text().splitlines()]
    assert lines == [{"seed": s, **r} for s in (3, 1) for r in per_seed[s]]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == [3, 1] and summary["questions"] == 6
    for entry in summary["methods"]:
        rows = [next(r for r in per_seed[s] if (r["method"], r["decoding"]) == (entry["method"], entry["decoding"]))
                for s in (3, 1)]  # fmt: skip
        # Each seed's mean of per-question correctness is that seed's accuracy; the summary's mean is their mean.
        assert entry["per_seed"] == pytest.approx([r["accuracy"] for r in rows], abs=5e-5)
        assert entry["mean"] == pytest.approx(sum(entry["per_seed"]) / 2, abs=1e-6)
        assert entry["low"] <= entry["mean"] <= entry["high"] and entry["questions"] == 6
        if entry["method"] != "pplug":
            assert "| " + entry["method"] + " | " + entry["decoding"] + " | " in (out / "summary.md").read_text()
    # The two plugs trained with different seeds: the seed reached training.
    weights = [(out / f"seed{s}" / "plugs" / "pplug" / "plug.safetensors").read_bytes() for s in (3, 1)]
    assert weights[0] != weights[1]
    claims = {c["b"]: c for c in summary["claims"]}
    assert claims["pplug-mean-pooling"]["verdict"] in {"holds here", "does not hold here", "cannot tell"}
    assert claims["bm25-k4"]["verdict"] == "not run"  # bm25-k1 ran, not the paper's 4 items
    assert "input-aware aggregation beats mean pooling" in (out / "claims.md").read_text()


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["--seeds", "0", "0"], ["--seeds", "seed 0 is given twice"]),
        (["--seeds", "0", "-1"], ["--seeds", "'-1'", ">= 0"]),
        (["--seeds", "x"], ["--seeds", "'x'"]),
        (["--seeds", "0", "1", "--seed", "2"], ["--seed and --seeds"]),
        (["--seeds", "0", "--checkpoint", "somewhere"], ["--checkpoint", "--seeds"]),
    ],
)
def test_bad_seeds_are_one_line_and_exit_2(tiny_models, tmp_path: Path, capsys, args, fragments) -> None:
    assert main(["compare", *args, "--out", str(tmp_path / "c")]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and captured.out == ""
    assert all(f in lines[0] for f in fragments), lines[0]
    assert not tiny_models and not (tmp_path / "c").exists()  # refused before any model loads


def test_compare_with_cpu_auto_chooses_each_plugs_length_and_reuses_only_a_plug_of_that_kind(
    tiny_models, tmp_path: Path, capsys
) -> None:
    from minipplug.model.plug import read_plug_config

    out = tmp_path / "cmp"
    sizes = ["--max-train-examples", "16", "--max-dev-examples", "4", "--batch-size", "4", "--quiet"]
    auto = ["compare", "--preset", "cpu-auto", "--methods", "pplug", "--max-epochs", "2", *sizes, "--out", str(out)]
    plug = out / "plugs" / "pplug"
    assert main(auto) == 0
    assert "length: chosen on validation users" in capsys.readouterr().out
    info = read_plug_config(plug)
    # Trained as train trains cpu-auto: validation users held out, the epoch cap in place of the config's epochs.
    assert info["length"] == "auto" and info["config"]["epochs"] == 2.0
    first = (plug / "plug.safetensors").stat().st_mtime_ns
    assert main(auto) == 0  # the same command again: the plug of the same kind is reused, not retrained
    assert (plug / "plug.safetensors").stat().st_mtime_ns == first
    fixed = [*auto, "--epochs", "2"]  # the same epochs, fixed: an automatic plug is not reused for it
    assert main(fixed) == 0
    assert "length: 2 epochs (given), no validation split" in capsys.readouterr().out
    assert read_plug_config(plug)["length"] == "epochs"


def test_compare_seeds_trains_each_seeds_lora_adapters_with_that_seed(tiny_models, tmp_path: Path, monkeypatch) -> None:
    from minipplug.engine import lora_per_user

    seen = []
    real = lora_per_user.train_user_lora

    def spy(plm, pairs, **kwargs):
        seen.append(kwargs["seed"])
        return real(plm, pairs, **{**kwargs, "epochs": 1})

    monkeypatch.setattr(lora_per_user, "train_user_lora", spy)
    sizes = ["--max-train-examples", "8", "--max-dev-examples", "6", "--epochs", "1", "--batch-size", "4", "--quiet"]
    out = str(tmp_path / "cmp")
    assert main(["compare", "--seeds", "3", "1", "--methods", "pplug", "lora-per-user", *sizes, "--out", out]) == 0
    assert seen and set(seen) == {3, 1} and seen == sorted(seen, reverse=True)  # seed 3's users first, then seed 1's
