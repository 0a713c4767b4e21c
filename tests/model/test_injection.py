"""Injection into a decoder-only and an encoder-decoder LLM, checked against the plain HF model.

Every check compares against a reference computed here independently (by hand, by the plain HF model, or
by a second run), never against the code path under test.
"""

from __future__ import annotations

import numpy as np
import pplug_tiny as tiny
import pytest
import torch
from pplug_tiny import (
    LABELS,
    PROMPTS,
    TARGETS,
    chat_ids,
    independent_rank_scores,
    plm_llm,
    rand_soft,
    setup_plug,
    spy_generate,
)

from minipplug.model.injection import PPlugLM, embedding_scale

RANK_LABELS = LABELS + ["action", "a new love story", "war", "space ship fight"]


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
        [],
        [tok.bos_token_id] + ids,
    )
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
        want = t5plm.model(
            input_ids=torch.tensor([tok(PROMPTS[0])["input_ids"]]),
            labels=torch.tensor([tok(TARGETS[0], add_special_tokens=False)["input_ids"] + [1]]),
        ).loss
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


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_label_scores_equal_one_sequence_per_label_under_either_attention(plm, attention):
    """The packed labels' mask is boolean for SDPA and additive for eager attention: both give each label the
    score of the label alone after its (padded, soft-token) prompt; any other attention is refused."""
    soft = rand_soft(3, 2) * 3
    lab_ids = [plm.tokenizer(t, add_special_tokens=False)["input_ids"] for t in RANK_LABELS]
    config = plm.model.config
    loaded = config._attn_implementation
    try:
        config._attn_implementation = attention
        with torch.no_grad():
            got = plm.batch_label_scores(PROMPTS, lab_ids, soft)  # (3, L)
        config._attn_implementation = "flash_attention_2"
        with pytest.raises(ValueError, match="sdpa or eager"):
            plm.batch_label_scores(PROMPTS, lab_ids, soft)
    finally:
        config._attn_implementation = loaded
    want = torch.tensor(
        [independent_rank_scores(plm, p, soft[b], RANK_LABELS) for b, p in enumerate(PROMPTS)], dtype=torch.float64
    )
    assert torch.allclose(got.double(), want, atol=1e-5), (got.double() - want).abs().max()
    assert plm.rank([], RANK_LABELS) == []


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
