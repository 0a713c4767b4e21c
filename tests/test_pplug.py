"""The PPlug core on tiny random models: history cache, aggregation, projector and plug, injection into a
decoder-only and an encoder-decoder LLM, a frozen LLM under training, checkpoints and resuming, and DDP.

Every check compares against a reference computed here independently (by hand, by the plain HF model, or
by a second run), never against the code path under test. One @slow test uses the real packaged models.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pplug_tiny as tiny  # noqa: E402
from minipplug.aggregation import aggregation_weights  # noqa: E402
from minipplug.encoder import HistoryEncoder  # noqa: E402
from minipplug.injection import PPlugLM, embedding_scale  # noqa: E402
from minipplug.plug import build_plug, load_plug, read_plug_config  # noqa: E402
from minipplug.projector import InstructionEmbedding, Projector  # noqa: E402
from minipplug.train import batch_loss, train_plug  # noqa: E402

ENC, D = tiny.ENC_DIM, tiny.LLM_DIM
PROMPTS = [
    "Which tag fits this movie? A robot learns to love in space and fights a long war.",
    "A dog.",
    "Two friends open a new school for wizards.",
]
TARGETS = ["sci-fi", "comedy drama", "fantasy"]
LABELS = ["sci fi", "comedy", "dark drama love"]  # different token lengths


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def llama():
    return tiny.tiny_llama()  # SmolLM2's tokenizer (chat template), vocab 49152, width 32


@pytest.fixture(scope="module")
def plm(llama):
    return PPlugLM(llama, chat_template=True, max_input_tokens=256, soft_position="input")


@pytest.fixture(scope="module")
def t5plm():
    return PPlugLM(tiny.tiny_t5(), chat_template=True, max_input_tokens=256)


def setup_plug(cfg, plm, seed: int = 0):
    """(plug, history encoder) built the way the CLI builds them, from a fresh tiny encoder."""
    enc = tiny.tiny_sentence_encoder(seed=seed)
    hist = HistoryEncoder(enc, cfg.encoder)
    plug = build_plug(cfg, enc, plm.dim, embedding_scale(plm.model))
    return plug, hist


def state(plug) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in plug.trainable_state_dict().items()}


def assert_states_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def spy_generate(monkeypatch, model) -> dict:
    """Record the token ids that model.generate returns (PPlugLM.generate only hands back strings)."""
    seen, original = {}, model.generate

    def spy(*args, **kwargs):
        seen["out"] = original(*args, **kwargs)
        return seen["out"]

    monkeypatch.setattr(model, "generate", spy)
    return seen


def rand_soft(B: int, S: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, S, D, generator=g)


def plm_llm(plm):
    """The LoadedLLM behind a PPlugLM (to wrap the same model with other settings)."""
    from minipplug.models import LoadedLLM

    return LoadedLLM(plm.name, plm.model, plm.tokenizer)


def chat_ids(tok, text: str) -> list[int]:
    """The chat template as the tokenizer itself renders it (the reference for PPlugLM's split)."""
    out = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True)
    return list(out["input_ids"] if hasattr(out, "keys") else out)


# ---------------------------------------------------------------------------------------------- 1. Enc_his
@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_sentence_encoder_pooling_by_hand(pooling):
    enc = tiny.tiny_sentence_encoder(pooling=pooling)
    texts = ["a dog", "a much longer text about a robot that learns to love", "space"]
    with torch.no_grad():
        got = enc(texts)
        want = []
        for t in texts:  # one text at a time: no padding at all, so the mask cannot matter
            hidden = enc.model(**enc.tokenizer([t], return_tensors="pt")).last_hidden_state[0]  # (T, D)
            v = hidden[0] if pooling == "cls" else hidden.mean(0)
            want.append(v / v.norm())
    assert enc.texts_encoded == len(texts)
    assert got.shape == (3, ENC)
    torch.testing.assert_close(got, torch.stack(want), atol=1e-5, rtol=0)
    torch.testing.assert_close(got.norm(dim=-1), torch.ones(3), atol=1e-6, rtol=0)


def test_mean_and_cls_pooling_differ():
    texts = ["a dog", "two friends"]
    with torch.no_grad():
        assert not torch.allclose(tiny.tiny_sentence_encoder(pooling="mean")(texts),
                                  tiny.tiny_sentence_encoder(pooling="cls")(texts))
    with pytest.raises(ValueError, match="pooling"):
        tiny.tiny_sentence_encoder(pooling="max")


@pytest.mark.parametrize("max_history", [512, 2])
def test_training_encodes_each_history_text_once(plm, max_history):
    cfg = tiny.tiny_config(epochs=2.0, max_history=max_history)
    examples = tiny.tiny_examples()
    plug, hist = setup_plug(cfg, plm)
    encoded: list[str] = []
    original = hist.encoder.forward

    def counting(texts, **kwargs):
        encoded.extend(texts)
        return original(texts, **kwargs)

    hist.encoder.forward = counting  # instance attribute: nn.Module.__call__ finds it
    distinct = {t for e in examples for t in e.history[-max_history:]}
    assert len(distinct) < sum(len(e.history[-max_history:]) for e in examples)  # texts do repeat
    result = train_plug(cfg, plug, plm, hist, examples)
    assert result.steps == 6  # 2 epochs of 3 batches: the cache served every later lookup
    assert sorted(encoded) == sorted(distinct)  # each distinct text once, nothing twice
    assert hist.encoder.texts_encoded == len(distinct)
    # A second run over the same examples (its two epochs included) encodes nothing.
    train_plug(cfg, plug, plm, hist, examples)
    assert hist.encoder.texts_encoded == len(distinct)


def test_history_disk_cache_round_trip(tmp_path):
    texts = ["Ships fight in space.", "A wizard school.", "Ships fight in space.", "A dog and a cat."]
    enc = tiny.tiny_sentence_encoder(seed=0)
    first = HistoryEncoder(enc, "tiny-bert", disk_dir=tmp_path)
    v1 = first.encode(texts)
    assert enc.texts_encoded == 3  # the repeated text once
    with torch.no_grad():
        torch.testing.assert_close(v1, enc(texts), atol=1e-6, rtol=0)
    torch.testing.assert_close(v1.norm(dim=-1), torch.ones(4), atol=1e-6, rtol=0)
    assert torch.equal(v1[0], v1[2])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 1 and files[0].endswith(".safetensors")  # no temp file left behind

    # A new HistoryEncoder with a *different* network: identical vectors, so they come from disk.
    other = tiny.tiny_sentence_encoder(seed=7)
    second = HistoryEncoder(other, "tiny-bert", disk_dir=tmp_path)
    v2 = second.encode(texts)
    assert other.texts_encoded == 0
    assert torch.equal(v1, v2)
    second.encode(["A brand new item."])
    assert other.texts_encoded == 1
    # Another encoder name has its own file.
    third = HistoryEncoder(tiny.tiny_sentence_encoder(seed=7), "another-encoder", disk_dir=tmp_path)
    third.encode(texts)
    assert third.encoder.texts_encoded == 3
    assert len(list(tmp_path.glob("*.safetensors"))) == 2


def test_history_batch_pads_and_keeps_last_items():
    hist = HistoryEncoder(tiny.tiny_sentence_encoder(), "tiny-bert")
    users = [["a", "b", "c"], [], ["d"]]
    H, mask = hist.batch(users, max_items=2)
    assert H.shape == (3, 2, ENC) and mask.tolist() == [[True, True], [False, False], [True, False]]
    assert torch.equal(H[0], hist.encode(["b", "c"]))  # the last two items
    assert torch.equal(H[2, 0], hist.encode(["d"])[0])
    assert torch.count_nonzero(H[1]) == 0 and torch.count_nonzero(H[2, 1]) == 0
    H0, mask0 = hist.batch([[], []], max_items=512)
    assert H0.shape == (2, 0, ENC) and mask0.shape == (2, 0)


# ---------------------------------------------------------------------------------------------- 2. aggregation
def unit(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g, dtype=torch.float64), dim=-1)


def hand_softmax(q, H, mask, tau, keep=None):
    """softmax_i(q . h_i / tau) over the kept real items, written out with math.exp."""
    B, N = mask.shape
    out = torch.zeros(B, N, dtype=torch.float64)
    for b in range(B):
        idx = [i for i in range(N) if mask[b, i] and (keep is None or i in keep[b])]
        s = {i: sum(float(q[b, d]) * float(H[b, i, d]) for d in range(q.shape[1])) / tau for i in idx}
        z = sum(math.exp(v) for v in s.values())
        for i in idx:
            out[b, i] = math.exp(s[i]) / z
    return out


@pytest.mark.parametrize("tau", [1.0, 0.5, 0.1])
def test_attention_weights_equal_hand_softmax(tau):
    q, H = unit(2, 6), unit(2, 5, 6, seed=1)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    w = aggregation_weights(q, H, mask, "attention", temperature=tau)
    torch.testing.assert_close(w, hand_softmax(q, H, mask, tau), atol=1e-12, rtol=0)
    assert torch.all(w[~mask] == 0)  # padding gets exactly zero
    torch.testing.assert_close(w.sum(-1), torch.ones(2, dtype=torch.float64))


def test_temperature_sharpens():
    q, H = unit(1, 6), unit(1, 8, 6, seed=2)
    mask = torch.ones(1, 8, dtype=torch.bool)
    ws = [aggregation_weights(q, H, mask, "attention", temperature=t)[0] for t in (10.0, 1.0, 0.1)]
    entropy = [float(-(w * w.log()).sum()) for w in ws]
    assert entropy[0] > entropy[1] > entropy[2]
    assert ws[0].max() < ws[1].max() < ws[2].max()
    assert len({int(w.argmax()) for w in ws}) == 1  # the same best item, only more weight on it
    assert abs(entropy[0] - math.log(8)) < 0.01  # tau = 10: nearly uniform


def test_mean_is_uniform_over_real_items():
    q, H = unit(3, 4), unit(3, 4, 4, seed=3)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)
    w = aggregation_weights(q, H, mask, "mean")
    want = torch.tensor([[0.25] * 4, [0.5, 0.5, 0, 0], [1.0, 0, 0, 0]], dtype=torch.float64)
    assert torch.equal(w, want)


def test_topk_keeps_exactly_k_best_items():
    q, H = unit(2, 6), unit(2, 8, 6, seed=4)
    mask = torch.tensor([[1] * 6 + [0, 0], [1, 1] + [0] * 6], dtype=torch.bool)
    w = aggregation_weights(q, H, mask, "topk", temperature=1.0, top_k=3)
    scores = torch.einsum("bd,bnd->bn", q, H)
    best = sorted(range(6), key=lambda i: -float(scores[0, i]))[:3]
    assert sorted(torch.nonzero(w[0]).flatten().tolist()) == sorted(best)
    # Row 1 has only 2 real items (< k): both kept, padding never.
    assert torch.nonzero(w[1]).flatten().tolist() == [0, 1]
    torch.testing.assert_close(w, hand_softmax(q, H, mask, 1.0, keep=[set(best), {0, 1}]), atol=1e-12, rtol=0)
    w1 = aggregation_weights(q, H, mask, "topk", top_k=1)
    assert torch.count_nonzero(w1[0]) == 1 and float(w1[0, best[0]]) == 1.0


@pytest.mark.parametrize("mode", ["attention", "mean", "topk"])
def test_empty_history_gives_zeros_never_nan(mode):
    q = unit(2, 4).float().requires_grad_(True)
    w = aggregation_weights(q, torch.zeros(2, 0, 4), torch.zeros(2, 0, dtype=torch.bool), mode)
    assert w.shape == (2, 0)
    H = unit(2, 3, 4, seed=5).float()
    mask = torch.tensor([[0, 0, 0], [1, 1, 0]], dtype=torch.bool)  # user 0: all padding
    w = aggregation_weights(q, H, mask, mode)
    assert torch.equal(w[0], torch.zeros(3))
    assert torch.isfinite(w).all() and abs(float(w[1].sum().detach()) - 1) < 1e-6
    if mode != "mean":
        (w * torch.arange(3.0)).sum().backward()  # the NaN of an all-masked softmax must not leak into gradients
        assert torch.isfinite(q.grad).all()
        assert torch.equal(q.grad[0], torch.zeros(4))


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


def test_training_with_hidden_history_stays_finite(plm):
    cfg = tiny.tiny_config(epochs=1.0)
    plug, hist = setup_plug(cfg, plm)
    before = state(plug)
    result = train_plug(cfg, plug, plm, hist, tiny.tiny_examples(), hide_history=True)
    after = state(plug)
    assert all(math.isfinite(loss) for _, loss in result.losses)
    assert all(torch.isfinite(v).all() for v in after.values())
    assert hist.encoder.texts_encoded == 0  # nothing to encode when histories are hidden
    assert not torch.equal(before["instruction.vector"], after["instruction.vector"])
    # The projector never sees a history item: it gets no gradient (weight decay is 0 here) and stays put.
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("projector."))


# ---------------------------------------------------------------------------------------------- 3. projector, plug
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
            torch.testing.assert_close(soft[b, n_instr:], user / user.norm(dim=-1, keepdim=True) * plug.scale,
                                       atol=1e-5, rtol=1e-5)
        instr = plug.instruction.proj(plug.instruction.vector)  # (n_instr, D)
        torch.testing.assert_close(soft[0, :n_instr], instr / instr.norm(dim=-1, keepdim=True) * plug.scale,
                                   atol=1e-5, rtol=1e-5)
        # The "without instruction embedding" ablation: the same user tokens, no instruction tokens.
        bare, _ = setup_plug(cfg.replace(use_instruction=False), plm)
        assert bare.instruction is None and bare.n_soft_tokens == n_user
        soft_bare, _ = bare(queries, H, mask)
    assert soft_bare.shape == (2, n_user, D)
    torch.testing.assert_close(soft_bare, soft[:, n_instr:], atol=1e-6, rtol=0)


def test_embedding_scale_is_median_row_norm(llama):
    W = llama.model.get_input_embeddings().weight.detach().double().numpy()
    norms = np.sort(np.sqrt((W**2).sum(axis=1)))
    V = len(norms)
    s = embedding_scale(llama.model)
    # A median lies between the two middle values (V is even here); both are within float32 rounding.
    assert norms[(V - 1) // 2] - 1e-5 <= s <= norms[V // 2] + 1e-5
    assert abs(s - float(np.median(norms))) < 1e-3 * s
    plug, _ = setup_plug(tiny.tiny_config(), PPlugLM(llama))
    assert float(plug.scale) == pytest.approx(s, rel=1e-6)


# ---------------------------------------------------------------------------------------------- 4. injection
def test_prompt_parts_split_the_chat_template(plm):
    tok = plm.tokenizer
    for text in PROMPTS:
        head, tail = plm.prompt_parts(text)
        assert head + tail == chat_ids(tok, text)
        assert tok.decode(head).endswith("<|im_start|>user\n")  # soft tokens go right before the task input
        assert tok.decode(tail).startswith(text)
    start = PPlugLM(plm_llm(plm), soft_position="start")
    assert start.prompt_parts(PROMPTS[0]) == ([], chat_ids(tok, PROMPTS[0]))


def test_prompt_parts_with_a_bos_tokenizer():
    tok = tiny.word_tokenizer(bos=True)
    llm = tiny.tiny_llama(tokenizer=tok)
    ids = tok("a robot learns to love", add_special_tokens=False)["input_ids"]
    assert PPlugLM(llm, chat_template=False).prompt_parts("a robot learns to love") == ([tok.bos_token_id], ids)
    assert PPlugLM(llm, chat_template=False, soft_position="start").prompt_parts("a robot learns to love") == (
        [], [tok.bos_token_id] + ids)
    # Truncation to max_input_tokens happens on the task input, before the template.
    short = PPlugLM(llm, chat_template=False, max_input_tokens=2)
    assert short.prompt_ids("a robot learns to love") == [tok.bos_token_id] + ids[:2]


def test_no_soft_single_prompt_logits_equal_plain_model(plm):
    ids = chat_ids(plm.tokenizer, PROMPTS[0])
    with torch.no_grad():
        got = plm([PROMPTS[0]]).logits
        want = plm.model(input_ids=torch.tensor([ids])).logits
    assert torch.equal(got, want)


@pytest.mark.parametrize("with_soft", [False, True])
def test_left_padded_batch_matches_single_rows(plm, with_soft):
    soft = rand_soft(3, 2) * 3 if with_soft else None
    with torch.no_grad():
        batch = plm.build(PROMPTS, soft)
        logits = plm.model(**batch).logits
        T = logits.shape[1]
        for b, p in enumerate(PROMPTS):
            single = plm([p], None if soft is None else soft[b : b + 1]).logits[0]  # (n, V), no padding
            n = single.shape[0]
            assert n == len(plm.prompt_ids(p)) + (2 if with_soft else 0)
            assert batch["attention_mask"][b].tolist() == [0] * (T - n) + [1] * n
            assert batch["position_ids"][b, T - n :].tolist() == list(range(n))
            torch.testing.assert_close(logits[b, T - n :], single, atol=1e-4, rtol=0)


@pytest.mark.parametrize("soft_position", ["input", "start"])
def test_labels_and_soft_token_positions(plm, soft_position):
    plm2 = PPlugLM(plm_llm(plm), soft_position=soft_position)
    tok, S = plm.tokenizer, 2
    soft = rand_soft(3, S)
    batch = plm2.build(PROMPTS, soft, TARGETS)
    E, labels, mask = batch["inputs_embeds"], batch["labels"], batch["attention_mask"]
    emb = plm.model.get_input_embeddings().weight
    T = E.shape[1]
    for b, (p, t) in enumerate(zip(PROMPTS, TARGETS)):
        head, tail = plm2.prompt_parts(p)
        full = chat_ids(tok, p)
        if soft_position == "start":
            assert head == [] and tail == full
        else:
            assert head + tail == full and len(head) > 0
        t_ids = tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        n = len(full) + S + len(t_ids)
        pad = T - n
        assert mask[b].tolist() == [0] * pad + [1] * n
        assert labels[b].tolist() == [-100] * (T - len(t_ids)) + t_ids  # -100 on padding, soft and prompt
        s0 = pad + len(head)
        assert torch.equal(E[b, s0 : s0 + S], soft[b])  # the soft tokens, exactly where prompt_parts says
        assert torch.equal(E[b, pad:s0], emb[head])
        assert torch.equal(E[b, s0 + S :], emb[tail + t_ids])
        assert torch.equal(E[b, :pad], emb[[plm.pad_id] * pad])
        if soft_position == "start":
            assert s0 == pad  # first real positions


def test_loss_equals_hf_loss_on_full_logits(plm):
    soft = rand_soft(3, 2)
    ours = plm.loss(PROMPTS, TARGETS, soft)
    with torch.no_grad():
        batch = plm.build(PROMPTS, soft, TARGETS)
        out = plm.model(**batch)
        # And once more by hand: mean NLL over the label tokens, token t predicted at position t - 1.
        logp = out.logits[:, :-1].double().log_softmax(-1)
        lab = batch["labels"][:, 1:]
        valid = lab != -100
        hand = -(logp.gather(-1, lab.clamp(min=0)[..., None])[..., 0][valid]).mean()
    assert abs(float(ours) - float(out.loss)) < 1e-5
    assert abs(float(ours) - float(hand)) < 1e-5
    # Differentiable with respect to the soft tokens (the only way the plug learns), never to the LLM.
    soft.requires_grad_(True)
    plm.loss(PROMPTS, TARGETS, soft).backward()
    assert torch.isfinite(soft.grad).all() and (soft.grad.norm(dim=-1) > 0).all()
    assert all(p.grad is None for p in plm.model.parameters())


def test_greedy_generate_follows_forward_argmax_in_left_padded_batch(plm, monkeypatch):
    soft = rand_soft(3, 2) * 3
    seen = spy_generate(monkeypatch, plm.model)
    answers = plm.generate(PROMPTS, soft, max_new_tokens=4)
    out = seen["out"]  # (B, 4): only the new tokens (inputs_embeds, no input_ids)
    assert len(answers) == 3 and all(isinstance(a, str) for a in answers)
    with torch.no_grad():
        first = plm(PROMPTS, soft).logits[:, -1].argmax(-1)
        assert out[:, 0].tolist() == first.tolist()
        # Reference greedy loop: full forward each step, positions counted over real tokens only.
        batch = plm.build(PROMPTS, soft)
        E, M = batch["inputs_embeds"], batch["attention_mask"]
        emb = plm.model.get_input_embeddings()
        steps = []
        for _ in range(4):
            pos = (M.cumsum(-1) - 1).clamp(min=0)
            nxt = plm.model(inputs_embeds=E, attention_mask=M, position_ids=pos).logits[:, -1].argmax(-1)
            steps.append(nxt)
            E, M = torch.cat([E, emb(nxt)[:, None]], 1), torch.cat([M, torch.ones(3, 1, dtype=M.dtype)], 1)
    ref = torch.stack(steps, 1)
    for b in range(3):  # up to (and including) the first EOS; generate pads after it
        row = ref[b].tolist()
        k = row.index(plm.eos_id) + 1 if plm.eos_id in row else len(row)
        assert out[b, :k].tolist() == row[:k]
    assert len(set(map(tuple, ref.tolist()))) > 1  # the rows really differ (a meaningful comparison)


def test_t5_layout_labels_and_loss(t5plm):
    tok, S = t5plm.tokenizer, 2
    soft = rand_soft(3, S)
    batch = t5plm.build(PROMPTS, soft, TARGETS)
    E, mask, labels = batch["inputs_embeds"], batch["attention_mask"], batch["labels"]
    emb = t5plm.model.get_input_embeddings().weight
    assert "position_ids" not in batch
    for b, (p, t) in enumerate(zip(PROMPTS, TARGETS)):
        ids = tok(p)["input_ids"]  # T5-style: ends with </s>
        assert ids[-1] == tok.eos_token_id
        n = S + len(ids)
        assert torch.equal(E[b, :S], soft[b])  # soft tokens at the start of the encoder input
        assert torch.equal(E[b, S:n], emb[ids])
        assert mask[b].tolist() == [1] * n + [0] * (E.shape[1] - n)  # right padding
        t_ids = tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        assert labels[b].tolist() == t_ids + [-100] * (labels.shape[1] - len(t_ids))
    loss = t5plm.loss(PROMPTS, TARGETS, soft)
    assert torch.isfinite(loss) and float(loss) > 0
    # Without soft tokens, one example: the plain HF call on token ids gives the same loss.
    with torch.no_grad():
        want = t5plm.model(input_ids=torch.tensor([tok(PROMPTS[0])["input_ids"]]),
                           labels=torch.tensor([tok(TARGETS[0], add_special_tokens=False)["input_ids"] + [1]])).loss
        got = t5plm.loss(PROMPTS[:1], TARGETS[:1])
    assert abs(float(got) - float(want)) < 1e-5


def test_t5_generate_follows_greedy_reference(t5plm, monkeypatch):
    soft = rand_soft(3, 2)
    seen = spy_generate(monkeypatch, t5plm.model)
    answers = t5plm.generate(PROMPTS, soft, max_new_tokens=4)
    assert len(answers) == 3 and all(isinstance(a, str) for a in answers)
    out = seen["out"][:, 1:]  # drop the decoder start token
    with torch.no_grad():
        batch = t5plm.build(PROMPTS, soft)
        dec = torch.zeros(3, 1, dtype=torch.long)  # decoder_start_token_id = pad = 0
        for _ in range(4):
            nxt = t5plm.model(**batch, decoder_input_ids=dec).logits[:, -1].argmax(-1)
            dec = torch.cat([dec, nxt[:, None]], 1)
    for b in range(3):
        row = dec[b, 1:].tolist()
        k = row.index(1) + 1 if 1 in row else len(row)
        assert out[b, :k].tolist() == row[:k]


def independent_rank_scores(plm, prompt: str, soft_b: torch.Tensor | None, labels: list[str]) -> list[float]:
    """Mean log-likelihood of each label's tokens (EOS excluded), one unpadded sequence per label."""
    tok, emb = plm.tokenizer, plm.model.get_input_embeddings()
    scores = []
    for label in labels:
        lab = tok(label, add_special_tokens=False)["input_ids"]
        if plm.is_encoder_decoder:
            enc = emb(torch.tensor(tok(prompt)["input_ids"]))
            if soft_b is not None:
                enc = torch.cat([soft_b, enc])
            logits = plm.model(inputs_embeds=enc[None], decoder_input_ids=torch.tensor([[0] + lab])).logits[0]
            logp = logits.double().log_softmax(-1)[: len(lab)]
        else:
            head, tail = plm.prompt_parts(prompt)
            parts = [emb(torch.tensor(head))] if head else []
            if soft_b is not None:
                parts.append(soft_b)
            parts.append(emb(torch.tensor(tail + lab)))
            logits = plm.model(inputs_embeds=torch.cat(parts)[None]).logits[0]
            logp = logits.double().log_softmax(-1)[-len(lab) - 1 : -1]
        scores.append(float(logp.gather(-1, torch.tensor(lab)[:, None]).mean()))
    return scores


RANK_LABELS = LABELS + ["action", "a new love story", "war", "space ship fight"]


@pytest.mark.parametrize("which", ["decoder", "encoder-decoder"])
def test_rank_picks_the_label_with_highest_mean_loglik(plm, t5plm, which):
    model = plm if which == "decoder" else t5plm
    soft = rand_soft(3, 2) * 3
    with torch.no_grad():
        for s in (soft, None):
            got = model.rank(PROMPTS, RANK_LABELS, s)
            assert len(got) == 3 and all(g in RANK_LABELS for g in got)
            for b, prompt in enumerate(PROMPTS):
                s_b = None if s is None else s[b]
                scores = independent_rank_scores(model, prompt, s_b, RANK_LABELS)
                order = [RANK_LABELS[i] for i in np.argsort(scores)[::-1]]
                gaps = -np.diff(np.sort(scores)[::-1])
                assert gaps.min() > 1e-4  # no near tie: the comparison is meaningful
                assert got[b] == order[0], (b, scores)
                # The whole ordering, by ranking what is left after removing each winner in turn.
                left, picked = list(RANK_LABELS), []
                while len(left) > 1:
                    picked.append(model.rank([prompt], left, None if s_b is None else s_b[None])[0])
                    left.remove(picked[-1])
                assert picked == order[:-1]


def test_predict_uses_the_plug(plm):
    from minipplug.predict import predict
    from minipplug.tasks import get_task
    from minipplug.train import soft_tokens

    cfg = tiny.tiny_config()
    plug, hist = setup_plug(cfg, plm)
    examples = tiny.tiny_examples()[:3]
    spec = get_task("LaMP_2")
    with torch.no_grad():
        pred = predict(examples, spec, plm, plug, hist, method="pplug", decoding="rank", batch_size=2, progress=False)
        soft, _ = soft_tokens(plug, hist, examples)
        want = plm.rank([e.input for e in examples], list(spec.labels), soft)
        base = predict(examples, spec, plm, method="non-personalized", decoding="rank", batch_size=2, progress=False)
    assert pred.answers == {e.id: a for e, a in zip(examples, want)}
    mean_prompt = sum(len(plm.prompt_ids(e.input)) for e in examples) / 3
    assert pred.prompt_tokens_mean == pytest.approx(mean_prompt + plug.n_soft_tokens)
    assert base.prompt_tokens_mean == pytest.approx(mean_prompt)
    with pytest.raises(ValueError, match="needs a trained plug"):
        predict(examples, spec, plm, method="pplug", progress=False)


# ---------------------------------------------------------------------------------------------- 5. frozen LLM
def test_llm_stays_frozen_and_plug_moves(plm):
    cfg = tiny.tiny_config(epochs=1.0)
    plug, hist = setup_plug(cfg, plm)
    llm_before = {k: v.clone() for k, v in plm.model.state_dict().items()}
    plug_before = state(plug)
    result = train_plug(cfg, plug, plm, hist, tiny.tiny_examples())
    assert result.steps == 3
    for name, p in plm.model.named_parameters():
        assert p.grad is None and not p.requires_grad, name
    for k, v in plm.model.state_dict().items():
        assert torch.equal(v, llm_before[k]), k  # bitwise unchanged
    after = state(plug)
    for prefix in ("projector.", "instruction.", "input_encoder.model.embeddings."):
        assert any(not torch.equal(plug_before[k], after[k]) for k in after if k.startswith(prefix)), prefix
    assert not plm.model.training


def test_loss_falls_on_a_fixed_batch():
    # A small-vocabulary Llama: the two soft tokens can move its loss visibly within 30 steps.
    plm = PPlugLM(tiny.tiny_llama(tokenizer=tiny.word_tokenizer(bos=True)), chat_template=False)
    cfg = tiny.tiny_config(batch_size=4, epochs=30.0, lr=1e-2, chat_template=False)
    examples = tiny.tiny_examples()[:4]
    plug, hist = setup_plug(cfg, plm)
    with torch.no_grad():
        before = float(batch_loss(plug, plm, hist, examples))
    result = train_plug(cfg, plug, plm, hist, examples)
    with torch.no_grad():
        after = float(batch_loss(plug, plm, hist, examples))
    assert result.steps == 30
    assert result.losses[0][1] == pytest.approx(before, rel=1e-5)  # step 1 saw exactly this batch
    assert after < 0.85 * before, (before, after)
    assert result.losses[-1][1] < result.losses[0][1]


def test_gradient_accumulation_steps_on_every_group(plm):
    """grad_accum=2 over 3 micro-batches per epoch: the short last group must step too, leaving no gradient behind."""
    cfg = tiny.tiny_config(batch_size=2, grad_accum=2, epochs=2.0)
    examples = tiny.tiny_examples()
    snapshots = []
    for stop in range(1, 5):
        plug, hist = setup_plug(cfg, plm)
        result = train_plug(cfg, plug, plm, hist, examples, stop_after_steps=stop)
        assert result.steps == stop
        snapshots.append(state(result.plug))
        assert all(p.grad is None or not p.grad.any() for p in result.plug.parameters())
    assert result.steps == 4 and len(result.losses) == 4  # 2 optimizer steps per epoch
    for a, b in zip(snapshots, snapshots[1:]):  # every step, the one-micro-batch group included, moves the plug
        assert any(not torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------------------------------------- 6. checkpoints
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
    (ckpt / "results.json").write_text("{}")  # a file that is not the plug's survives saves
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
    assert (ckpt / "results.json").read_text() == "{}"
    assert (ckpt / "plug.safetensors").read_bytes() != before["plug.safetensors"]


def test_resume_equals_uninterrupted_run(plm, tmp_path):
    cfg = tiny.tiny_config(epochs=2.0, warmup_ratio=0.2)  # 6 steps, a warm-up and a decay to resume inside
    examples = tiny.tiny_examples()
    plug_a, hist_a = setup_plug(cfg, plm)
    full = train_plug(cfg, plug_a, plm, hist_a, examples, out_dir=tmp_path / "A")
    assert full.steps == 6

    plug_b, hist_b = setup_plug(cfg, plm)
    part = train_plug(cfg, plug_b, plm, hist_b, examples, out_dir=tmp_path / "B", stop_after_steps=2)
    assert part.steps == 2 and json.loads((tmp_path / "B" / "losses.json").read_text())["train"][-1][0] == 2
    assert any(not torch.equal(v, full.plug.trainable_state_dict()[k]) for k, v in part.plug.trainable_state_dict().items())
    fresh, hist_c = setup_plug(cfg, plm)  # a new process would build exactly this
    resumed = train_plug(cfg, fresh, plm, hist_c, examples, out_dir=tmp_path / "B", resume=True)
    assert resumed.steps == 6
    assert_states_equal(full.plug.trainable_state_dict(), resumed.plug.trainable_state_dict())
    assert [s for s, _ in resumed.losses] == list(range(1, 7))
    np.testing.assert_allclose([x for _, x in resumed.losses], [x for _, x in full.losses], rtol=0, atol=1e-6)
    loaded = load_plug(tmp_path / "B", tiny.tiny_sentence_encoder(), plm.dim)
    assert_states_equal(full.plug.trainable_state_dict(), loaded.trainable_state_dict())
    with pytest.raises(FileNotFoundError, match="training_state.pt"):
        train_plug(cfg, fresh, plm, hist_c, examples, out_dir=tmp_path / "nothing", resume=True)


def test_seeded_runs_are_identical(plm):
    cfg = tiny.tiny_config(epochs=1.0)
    runs = []
    for _ in range(2):
        plug, hist = setup_plug(cfg, plm)
        runs.append(train_plug(cfg, plug, plm, hist, tiny.tiny_examples()))
    assert_states_equal(runs[0].plug.trainable_state_dict(), runs[1].plug.trainable_state_dict())
    assert runs[0].losses == runs[1].losses
    plug, hist = setup_plug(cfg.replace(seed=1), plm)
    other = train_plug(cfg.replace(seed=1), plug, plm, hist, tiny.tiny_examples())
    assert other.losses != runs[0].losses


# ---------------------------------------------------------------------------------------------- 7. DDP
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("launcher", ["accelerate", "torchrun"])
def test_ddp_ranks_end_identical(tmp_path, launcher):
    """Two CPU processes (gloo) train the plug on halves of each batch; DDP keeps their weights identical.

    `accelerate launch --cpu --num_processes 2` starts one process unless MPI is installed, so the accelerate
    variant uses --multi_gpu, which launches through torchrun; on a machine without GPUs train_plug then asks
    accelerate for the CPU (gloo) backend itself.
    """
    from safetensors.torch import load_file

    script = Path(__file__).resolve().parent / "ddp_train_script.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("ACCELERATE_USE_CPU", None)  # train_plug must find the CPU launch on its own
    port = str(free_port())
    if launcher == "accelerate":
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", port]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", port]
    cmd += [str(script), str(tmp_path / "out")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    infos = [json.loads((tmp_path / "out" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [i["world"] for i in infos] == [2, 2] and [i["rank"] for i in infos] == [0, 1]
    assert all(i["moved"] and i["steps"] == 4 for i in infos)
    assert infos[0]["losses"] != infos[1]["losses"]  # each rank saw its own half of every batch
    w0, w1 = (load_file(str(tmp_path / "out" / f"rank{r}.safetensors")) for r in (0, 1))
    assert_states_equal(w0, w1)


# ---------------------------------------------------------------------------------------------- 8. real models
@pytest.mark.slow
def test_real_models_no_soft_logits_and_soft_norm(llm, encoder):
    from minipplug.encoder import SentenceEncoder

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


def test_history_vectors_do_not_depend_on_batch_company():
    """A text's vector is bit-identical whether it was encoded alone, in a small batch or in a large one.

    Shown on the tiny encoder; with MiniLM on some CPU kernels the batch's row count still moves a vector at
    the 1e-7 level (README, Results), which the disk cache absorbs by keeping the first value."""
    enc = tiny.tiny_sentence_encoder()
    texts = [f"item {i} " + "word " * (i % 9) for i in range(40)]
    a = HistoryEncoder(enc, "tiny").encode(texts)
    h = HistoryEncoder(enc, "tiny", batch_size=3)
    h.encode(texts[5:9])
    h.encode(texts[20:21])
    assert torch.equal(h.encode(texts), a)
