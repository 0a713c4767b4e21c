"""The notebooks' common start (minipplug.course.notebook): profiles, run settings, seeds, plug reuse."""

from __future__ import annotations

import json
import random
import re

import pytest

from minipplug.config import PPlugConfig
from minipplug.course.notebook import PAPER_MEMORY, PROFILES, get_settings, saved_plug_matches, setup, spread
from minipplug.errors import InputError
from minipplug.lamp.data import Example
from minipplug.lamp.tasks import get_task


@pytest.mark.parametrize("precision, epochs", [("no", 1.5), ("bf16", 3.0), ("fp16", 3.0)])
def test_fast_is_the_small_models_preset_on_the_whole_sample(monkeypatch, precision, epochs):
    import minipplug.engine.train as engine_train

    monkeypatch.delenv("MINIPPLUG_PROFILE", raising=False)
    monkeypatch.setattr(engine_train, "pick_precision", lambda cfg: precision)  # fp32 is "no", as accelerate says
    s = get_settings("fast")
    assert s.profile == "fast" and s.data == "sample" and s.sample == "lamp2_tags"
    # train's default recipe (cpu-auto, as the demo) at a fixed length on all the data: bf16 needs twice fp32's.
    want = PPlugConfig.preset("cpu-auto", epochs=epochs)
    assert s.cfg.training_fields() == want.training_fields() and want.max_train_examples == 0
    names = {m.name for m in s.compare_methods}
    assert {"pplug", "pplug-no-history", "pplug-swapped-history", "non-personalized"} <= names
    assert s.task is get_task("LaMP_2") and s.task.name == s.cfg.task  # looked up once, when the settings are made
    assert s.compare_dev == (30 if precision == "no" else 0)  # notebook 04: every dev question unless in fp32


def test_gpu_keeps_the_offline_models_and_trains_longer_in_mixed_precision():
    fast, gpu = get_settings("fast"), get_settings("gpu", seed=3)
    assert gpu.data == "sample" and (gpu.cfg.llm, gpu.cfg.encoder) == (fast.cfg.llm, fast.cfg.encoder)
    assert gpu.cfg.epochs > fast.cfg.epochs and gpu.cfg.seed == 3 and gpu.compare_dev == 0


def test_paper_is_the_published_recipe_on_real_lamp():
    paper = get_settings("paper")
    recipe = PPlugConfig.preset("paper")
    assert paper.data == "lamp" and paper.cfg.training_fields() == {**recipe.training_fields(), "seed": 0}
    assert any("flan-t5-xl" in name for name in PAPER_MEMORY)  # what fits a 16 GB Colab T4 is said


def test_the_default_profile_follows_the_hardware(monkeypatch):
    import torch

    monkeypatch.delenv("MINIPPLUG_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_settings().profile == "fast"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_settings().profile == "gpu"
    monkeypatch.setenv("MINIPPLUG_PROFILE", "Paper ")
    assert get_settings().profile == "paper"


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("MINIPPLUG_PROFILE", "turbo")
    with pytest.raises(ValueError, match=r"unknown notebook profile 'turbo'.*known: fast, gpu, paper"):
        get_settings()
    assert set(PROFILES) == {"fast", "gpu", "paper"}


def test_setup_seeds_and_prints_one_line(monkeypatch, capsys):
    monkeypatch.delenv("MINIPPLUG_PROFILE", raising=False)
    monkeypatch.delenv("MINIPPLUG_THREADS", raising=False)
    p = setup(seed=7)
    a = random.random()
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("device: ") and "profile: fast" in out and "seed 7" in out
    assert "fp32" in out or "bf16 autocast" in out  # the precision training will use
    setup(seed=7)
    assert random.random() == a and p.cfg.seed == 7
    capsys.readouterr()


@pytest.mark.parametrize("bad", ["many", "0", "-2", "1.5"])
def test_setup_rejects_a_bad_thread_count(monkeypatch, bad):
    monkeypatch.setenv("MINIPPLUG_THREADS", bad)
    with pytest.raises(InputError, match=rf"MINIPPLUG_THREADS must be a whole number.*got '{re.escape(bad)}'"):
        setup()


def test_setup_sets_the_threads_it_is_given(monkeypatch, capsys):
    import torch

    before = torch.get_num_threads()
    monkeypatch.setenv("MINIPPLUG_THREADS", "3")
    try:
        setup()
        assert torch.get_num_threads() == 3 and "(3 threads)" in capsys.readouterr().out
    finally:
        torch.set_num_threads(before)


def test_settings_examples_respect_the_limits(monkeypatch):
    s = get_settings("fast")
    train, dev = s.examples("train"), s.examples("dev", limit=30)
    assert len(train) == 360 and len(dev) == 30
    assert len({e.user for e in dev}) == len(dev)  # spread: one question per user first
    assert not {e.user for e in train} & {e.user for e in dev}
    assert len(s.examples("dev")) == 120
    with pytest.raises(ValueError, match="split must be train or dev"):
        s.examples("test")


def test_spread_goes_round_robin_over_users():
    ex = [Example(f"{u}{i}", "x", "x", [], [], "t", u) for u in "abc" for i in range(3)]
    assert [e.id for e in spread(ex, 5)] == ["a0", "b0", "c0", "a1", "b1"]
    assert spread(ex, 0) == ex and spread(ex, 100) == ex


def test_saved_plug_matches_ignores_fields_that_do_not_change_weights(tmp_path):
    cfg = PPlugConfig(max_train_examples=64)
    ckpt = tmp_path / "pplug"
    assert not saved_plug_matches(ckpt, cfg)  # nothing there
    ckpt.mkdir()
    (ckpt / "plug.safetensors").write_bytes(b"")
    info = {
        "config": cfg.replace(progress=False, eval_every=4, max_dev_examples=3).to_dict(),
        "hide_history": False,
        "encoder_dim": 384,
        "llm_dim": 576,
        "scale": 1.0,
    }
    (ckpt / "plug_config.json").write_text(json.dumps(info))
    assert saved_plug_matches(ckpt, cfg)
    assert not saved_plug_matches(ckpt, cfg.replace(lr=1e-4))  # a different training run
    (ckpt / "plug_config.json").write_text(json.dumps({**info, "hide_history": True}))
    assert not saved_plug_matches(ckpt, cfg)  # the no-history control is not PPlug
