"""The projector, the instruction embedding and the plug (Eq. 4): shapes, norms, checkpoints.

Every check compares against a reference computed here independently (by hand, by the plain HF model, or
by a second run), never against the code path under test.
"""

from __future__ import annotations

import pplug_tiny as tiny
import pytest
import torch
from pplug_tiny import (
    ENC,
    PROMPTS,
    D,
    assert_states_equal,
    chat_ids,
    hand_softmax,
    setup_plug,
)

from minipplug.model.encoder import HistoryEncoder
from minipplug.model.injection import PPlugLM, embedding_scale
from minipplug.model.plug import build_plug, load_plug, read_plug_config
from minipplug.model.projector import InstructionEmbedding, Projector


def test_plug_on_empty_history_gives_finite_soft_tokens_and_generates(plm):
    cfg = tiny.tiny_config()
    plug, hist = setup_plug(cfg, plm)
    with torch.no_grad():
        soft, w = plug(["a dog", "a cat"], torch.zeros(2, 0, ENC), torch.zeros(2, 0, dtype=torch.bool))
        assert soft.shape == (2, 2, D) and w.shape == (2, 0) and torch.isfinite(soft).all()
        norms = soft.norm(dim=-1)
        torch.testing.assert_close(norms[:, 0], plug.scale.expand(2), rtol=1e-5, atol=0)  # instruction token
        assert torch.equal(norms[:, 1], torch.zeros(2))  # user token of an empty history
        # A batch mixing an empty history with a real one (padding rows, not N = 0).
        H, mask = hist.batch([[], ["Ships fight in space.", "A wizard school."]], cfg.max_history)
        mixed, _ = plug(["a dog", "a cat"], H, mask)
        assert torch.isfinite(mixed).all() and float(mixed[0, 1].norm()) == 0.0
        torch.testing.assert_close(mixed[1, 1].norm(), plug.scale, rtol=1e-5, atol=0)
        answers = plm.generate(PROMPTS[:2], soft, max_new_tokens=3)
    assert isinstance(answers, list) and len(answers) == 2 and all(isinstance(a, str) for a in answers)


def test_projector_shapes():
    p = Projector(ENC, D, hidden=0, n_tokens=3)
    assert p.net[0].out_features == D  # hidden 0 means the LLM's width
    assert p(torch.randn(ENC)).shape == (3, D)
    assert p(torch.randn(2, 5, ENC)).shape == (2, 5, 3, D)
    assert Projector(ENC, D, hidden=8).net[0].out_features == 8
    assert isinstance(p.net[1], torch.nn.GELU) and len(p.net) == 3  # 2 linear layers with GELU


def test_instruction_embedding_shapes():
    inst = InstructionEmbedding(ENC, D, hidden=0, n_tokens=2)
    out = inst(batch_size=3)
    assert out.shape == (3, 2, D)
    assert torch.equal(out[0], out[2])  # shared by all users
    assert torch.equal(out[0], inst.proj(inst.vector))


@pytest.mark.parametrize("n_instr,n_user", [(1, 1), (2, 3)])
def test_plug_output_shape_norms_and_eq4(plm, n_instr, n_user):
    cfg = tiny.tiny_config(n_instruction_tokens=n_instr, n_user_tokens=n_user)
    plug, hist = setup_plug(cfg, plm)
    users = [["Ships fight in space.", "A wizard school.", "A dog and a cat."], ["Rain all week."]]
    queries = ["a robot in space", "a bridge"]
    H, mask = hist.batch(users, cfg.max_history)
    with torch.no_grad():
        soft, w = plug(queries, H, mask)
        assert plug.n_soft_tokens == n_instr + n_user
        assert soft.shape == (2, n_instr + n_user, D)
        torch.testing.assert_close(soft.norm(dim=-1), plug.scale.expand(2, n_instr + n_user), rtol=1e-5, atol=0)
        # Eq. 2-4 by hand: w = softmax(Enc_input(x) . Enc_his(h)), P_u = sum_i w_i Proj(h_i), then scaled.
        q = plug.input_encoder(queries).double()
        w_hand = hand_softmax(q, H.double(), mask, 1.0)
        torch.testing.assert_close(w.double(), w_hand, atol=1e-6, rtol=0)
        for b in range(2):
            n = len(users[b])
            user = sum(float(w_hand[b, i]) * plug.projector(H[b, i]) for i in range(n))  # (n_user, D)
            torch.testing.assert_close(
                soft[b, n_instr:], user / user.norm(dim=-1, keepdim=True) * plug.scale, atol=1e-5, rtol=1e-5
            )
        instr = plug.instruction.proj(plug.instruction.vector)  # (n_instr, D)
        torch.testing.assert_close(
            soft[0, :n_instr], instr / instr.norm(dim=-1, keepdim=True) * plug.scale, atol=1e-5, rtol=1e-5
        )
        # The "without instruction embedding" ablation: the same user tokens, no instruction tokens.
        bare, _ = setup_plug(cfg.replace(use_instruction=False), plm)
        assert bare.instruction is None and bare.n_soft_tokens == n_user
        soft_bare, _ = bare(queries, H, mask)
    assert soft_bare.shape == (2, n_user, D)
    torch.testing.assert_close(soft_bare, soft[:, n_instr:], atol=1e-6, rtol=0)


def test_save_and_load_round_trip(plm, tmp_path):
    cfg = tiny.tiny_config(n_user_tokens=2)
    plug, hist = setup_plug(cfg, plm)
    with torch.no_grad():  # make the weights differ from a fresh build
        for p in plug.parameters():
            p.add_(0.01 * torch.randn_like(p))
    ckpt = plug.save(tmp_path / "ckpt", meta={"steps": 7})
    assert sorted(p.name for p in ckpt.iterdir()) == ["plug.safetensors", "plug_config.json"]
    info = read_plug_config(ckpt)
    assert info["config"]["encoder"] == "tiny-bert" and info["config"]["llm"] == "tiny-llama"
    assert info["encoder_dim"] == ENC and info["llm_dim"] == D and info["steps"] == 7
    assert info["scale"] == pytest.approx(float(plug.scale))
    loaded = load_plug(ckpt, tiny.tiny_sentence_encoder(seed=3), plm.dim)  # another encoder: weights come from disk
    assert_states_equal(plug.trainable_state_dict(), loaded.trainable_state_dict())
    assert loaded.cfg == cfg
    H, mask = hist.batch([["Ships fight in space."], ["A dog.", "A cat."]], 512)
    with torch.no_grad():
        assert torch.equal(plug(["x", "y"], H, mask)[0], loaded(["x", "y"], H, mask)[0])


def test_frozen_input_encoder_is_not_saved(plm, tmp_path):
    cfg = tiny.tiny_config(train_input_encoder=False)
    plug, _ = setup_plug(cfg, plm)
    plug.save(tmp_path / "ckpt")
    from safetensors.torch import load_file

    assert not any(k.startswith("input_encoder.") for k in load_file(str(tmp_path / "ckpt" / "plug.safetensors")))
    enc = tiny.tiny_sentence_encoder(seed=0)
    loaded = load_plug(tmp_path / "ckpt", enc, plm.dim)
    assert_states_equal(plug.state_dict(), loaded.state_dict())


def test_load_into_another_width_fails_naming_both(plm, tmp_path):
    plug, _ = setup_plug(tiny.tiny_config(), plm)
    plug.save(tmp_path / "ckpt")
    other = PPlugLM(tiny.tiny_llama(tokenizer=tiny.word_tokenizer(bos=True), width=48))
    assert other.dim == 48
    with pytest.raises(ValueError, match=r"width 32.*width 48"):
        load_plug(tmp_path / "ckpt", tiny.tiny_sentence_encoder(), other.dim)
    with pytest.raises(FileNotFoundError, match="not a plug checkpoint"):
        load_plug(tmp_path, tiny.tiny_sentence_encoder(), plm.dim)


def test_save_is_atomic(plm, tmp_path, monkeypatch):
    import safetensors.torch

    plug, _ = setup_plug(tiny.tiny_config(), plm)
    ckpt = tmp_path / "ckpt"
    plug.save(ckpt)
    (ckpt / "stale.json").write_text("{}")  # a file of an earlier run in the same folder
    before = {p.name: p.read_bytes() for p in ckpt.iterdir()}
    with torch.no_grad():
        for p in plug.parameters():
            p.add_(1.0)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        plug.save(ckpt)
    assert {p.name: p.read_bytes() for p in ckpt.iterdir()} == before  # the previous checkpoint, intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temp dir left
    with pytest.raises(OSError):
        plug.save(tmp_path / "fresh")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # a failed first save leaves nothing
    monkeypatch.undo()
    plug.save(ckpt)
    # The folder is replaced as a whole: the new plug's two files and nothing of the earlier run.
    assert sorted(p.name for p in ckpt.iterdir()) == ["plug.safetensors", "plug_config.json"]
    assert (ckpt / "plug.safetensors").read_bytes() != before["plug.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # nothing set aside is left behind


@pytest.mark.slow
def test_real_models_no_soft_logits_and_soft_norm(llm, encoder):
    from minipplug.model.encoder import SentenceEncoder

    plm_real = PPlugLM(llm, chat_template=True, max_input_tokens=256, soft_position="input")
    text = "Which tag fits this movie? Just answer with the tag. description: A robot learns to love."
    ids = chat_ids(llm.tokenizer, text)
    assert plm_real.prompt_ids(text) == ids
    with torch.no_grad():
        assert torch.equal(plm_real([text]).logits, llm.model(input_ids=torch.tensor([ids])).logits)
    tokenizer, model, pooling = encoder
    enc = SentenceEncoder(tokenizer, model, pooling=pooling)
    scale = embedding_scale(llm.model)
    assert scale == pytest.approx(3.154, abs=0.01)  # SmolLM2-135M's median token-embedding norm
    cfg = tiny.tiny_config(encoder="all-MiniLM-L6-v2", llm="SmolLM2-135M-Instruct")
    plug = build_plug(cfg, enc, plm_real.dim, scale)
    hist = HistoryEncoder(enc, cfg.encoder)
    H, mask = hist.batch([["Ships fight in space. tag: sci-fi", "A wizard school. tag: fantasy"]], 512)
    with torch.no_grad():
        soft, w = plug(["A robot learns to love."], H, mask)
        assert soft.shape == (1, 2, 576)
        torch.testing.assert_close(soft.norm(dim=-1), torch.full((1, 2), scale), rtol=1e-5, atol=0)
        loss = plm_real.loss([text], ["sci-fi"], soft)
    assert torch.isfinite(loss)
