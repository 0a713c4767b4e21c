"""The notebooks' common start (minipplug.course.notebook): profiles, seeds, the one-line device print, plug reuse."""

from __future__ import annotations

import json
import random

import pytest

from minipplug.config import PPlugConfig
from minipplug.course.notebook import PROFILES, get_profile, saved_plug_matches, setup, spread
from minipplug.lamp.data import Example


def test_fast_is_the_cpu_preset_with_small_sizes(monkeypatch):
    monkeypatch.delenv("MINIPPLUG_PROFILE", raising=False)
    p = get_profile()
    assert p.name == "fast" and p.data == "sample" and p.sample == "lamp2_tags"
    cpu = PPlugConfig()
    # Only sizes differ from the CPU preset: every other field is the preset's.
    changed = {k for k, v in p.cfg.to_dict().items() if v != cpu.to_dict()[k]}
    assert changed <= {"batch_size", "epochs", "max_train_examples", "max_dev_examples", "seed"}
    assert p.cfg.llm == cpu.llm and p.cfg.encoder == cpu.encoder
    assert 0 < p.max_train_examples <= 100 and 0 < p.max_dev_examples <= 20
    assert "pplug" in p.compare_methods and "non-personalized" in p.compare_methods


def test_full_is_the_gpu_preset_on_real_lamp(monkeypatch):
    monkeypatch.setenv("MINIPPLUG_PROFILE", "full")
    p = get_profile(seed=3)
    gpu = PPlugConfig.preset("gpu-full")
    assert p.name == "full" and p.data == "lamp"
    assert p.cfg.llm == gpu.llm and p.cfg.encoder == gpu.encoder and p.cfg.seed == 3
    assert p.max_train_examples == 0 and p.max_dev_examples == 0  # everything
    assert len(p.compare_methods) > len(get_profile("fast").compare_methods)


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("MINIPPLUG_PROFILE", "turbo")
    with pytest.raises(ValueError, match=r"unknown notebook profile 'turbo'.*known: fast, full"):
        get_profile()
    assert set(PROFILES) == {"fast", "full"}


def test_setup_seeds_and_prints_one_line(monkeypatch, capsys):
    monkeypatch.delenv("MINIPPLUG_PROFILE", raising=False)
    monkeypatch.delenv("MINIPPLUG_THREADS", raising=False)
    p = setup(seed=7)
    a = random.random()
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("device: ") and "profile: fast" in out and "seed 7" in out
    setup(seed=7)
    assert random.random() == a and p.cfg.seed == 7
    capsys.readouterr()


def test_setup_rejects_a_bad_thread_count(monkeypatch):
    monkeypatch.setenv("MINIPPLUG_THREADS", "many")
    with pytest.raises(ValueError, match="MINIPPLUG_THREADS must be a whole number"):
        setup()


def test_sample_profile_examples_respect_the_limits(monkeypatch):
    monkeypatch.delenv("MINIPPLUG_PROFILE", raising=False)
    p = get_profile()
    train, dev = p.examples("train"), p.examples("dev")
    assert len(train) == p.max_train_examples and len(dev) == p.max_dev_examples
    assert len({e.user for e in dev}) == len(dev)  # spread: one question per user first
    assert not {e.user for e in train} & {e.user for e in dev}
    with pytest.raises(ValueError, match="split must be train or dev"):
        p.examples("test")


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
