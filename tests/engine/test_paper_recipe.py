"""The paper's recipe as the code runs it: the presets, BGE's query instruction, and weight decay as in HF's Trainer.

References are independent of the code under test: the paper (Liu et al., "LLMs + Persona-Plug = Personalized
LLMs", arXiv 2409.11901, its implementation details) and the authors' run script for the presets,
the texts the encoders actually receive for the instruction, Hugging Face's own Trainer for weight decay.
"""

from __future__ import annotations

import pplug_tiny as tiny
import pytest
import torch

from minipplug.config import PRESETS, PPlugConfig
from minipplug.engine.train import _optimizer
from minipplug.lamp.data import Example
from minipplug.model.injection import PPlugLM
from minipplug.model.plug import soft_tokens

BGE = "Represent this sentence for searching relevant passages: "


def test_paper_preset_is_the_published_recipe():
    p = PPlugConfig.preset("paper")
    # arXiv 2409.11901 (implementation details) and the authors' run_all_t5.sh.
    assert (p.n_instruction_tokens, p.n_user_tokens, p.use_instruction) == (1, 1, True)
    assert (p.aggregation, p.temperature) == ("attention", 1.0)
    assert (p.max_input_tokens, p.max_encoder_tokens, p.max_history) == (256, 512, 512)
    assert (p.lr, p.encoder_lr, p.weight_decay, p.warmup_ratio) == (1e-4, 1e-4, 1e-4, 0.05)
    assert p.batch_size * p.grad_accum == 64 and p.epochs == 2.0 and p.seed == 0
    assert (p.num_beams, p.decoding, p.soft_position) == (4, "generate", "start")
    assert p.encoder == "BAAI/bge-base-en-v1.5" and p.query_instruction == BGE
    assert p.llm == "google/flan-t5-xl"  # the paper's XXL does not fit a 16 GB GPU: the one departure
    assert PRESETS["gpu-full"].fields == PRESETS["paper"].fields  # the former name
    assert PPlugConfig.preset("cpu-fast") == PPlugConfig() and PPlugConfig().query_instruction == ""


def test_query_instruction_reaches_the_input_encoder_only(monkeypatch):
    cfg = tiny.tiny_config(query_instruction=BGE)
    plm = PPlugLM(tiny.tiny_llama(), chat_template=True, max_input_tokens=256)
    plug, hist = tiny.setup_plug(cfg, plm)
    seen = {"input": [], "history": []}
    for key, enc in (("input", plug.input_encoder), ("history", hist.encoder)):
        forward = enc.forward

        def spy(texts, *args, _key=key, _forward=forward, **kwargs):
            seen[_key].extend(texts)
            return _forward(texts, *args, **kwargs)

        monkeypatch.setattr(enc, "forward", spy)
    ex = Example("q", "description: A robot.", "A robot.", ["Ships fight. tag: sci-fi"], [{"text": "Ships fight."}])
    soft, w = soft_tokens(plug, hist, [ex])
    assert seen["input"] == [BGE + "A robot."]
    assert seen["history"] == ["Ships fight. tag: sci-fi"]
    assert soft.shape[:2] == (1, 2) and torch.isfinite(soft).all()


@pytest.mark.parametrize("train_encoder", [True, False])
def test_optimizer_decays_as_hf_trainer_two_groups_per_learning_rate(train_encoder):
    from transformers import Trainer

    cfg = tiny.tiny_config(weight_decay=0.01, lr=1e-2, encoder_lr=1e-3, train_input_encoder=train_encoder)
    plug, _ = tiny.setup_plug(cfg, PPlugLM(tiny.tiny_llama(), max_input_tokens=256))
    names = {id(p): n for n, p in plug.named_parameters()}
    decayed_by_hf = set(Trainer.get_decay_parameter_names(None, plug))  # HF's own rule (self is unused)
    opt = _optimizer(plug, cfg)
    seen = []
    for g in opt.param_groups:
        group_names = [names[id(p)] for p in g["params"]]
        seen += group_names
        in_encoder = {n.startswith("input_encoder.") for n in group_names}
        assert len(in_encoder) == 1 and g["lr"] == (cfg.encoder_lr if in_encoder == {True} else cfg.lr)
        assert {n in decayed_by_hf for n in group_names} == {g["weight_decay"] == cfg.weight_decay}
    trainable = [n for n, p in plug.named_parameters() if p.requires_grad]
    assert sorted(seen) == sorted(trainable)  # every trainable parameter once, nothing frozen
    assert len(opt.param_groups) == (4 if train_encoder else 2)
    # The BERT input encoder's biases and LayerNorm weights, and the projector's biases, are not decayed.
    no_decay = {n for g in opt.param_groups if g["weight_decay"] == 0.0 for n in (names[id(p)] for p in g["params"])}
    assert any(n.endswith("projector.net.0.bias") for n in no_decay)
    assert any("LayerNorm.weight" in n for n in no_decay) == train_encoder
