"""Input-aware attention (Eq. 3) and its ablations against hand-computed weights.

Every check compares against a reference computed here independently (by hand, by the plain HF model, or
by a second run), never against the code path under test.
"""

from __future__ import annotations

import math

import pytest
import torch
from pplug_tiny import hand_softmax, unit

from minipplug.model.aggregation import aggregation_weights


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


def test_topk_keeps_exactly_k_items_on_ties_the_earliest_first():
    # Six identical history items: every score ties, top_k=4 keeps exactly four, the first four, 1/4 each.
    q = unit(1, 6)
    H = unit(1, 1, 6, seed=6).expand(1, 6, 6).clone()
    w = aggregation_weights(q, H, torch.ones(1, 6, dtype=torch.bool), "topk", top_k=4)
    assert torch.nonzero(w[0]).flatten().tolist() == [0, 1, 2, 3]
    torch.testing.assert_close(w[0], torch.tensor([0.25] * 4 + [0.0] * 2, dtype=torch.float64), atol=1e-15, rtol=0)
    # A best item, then a three-way tie for the second place (items 1, 3, 4; item 2 is padding, item 5 worse):
    # k=2 keeps the best and the earliest real item of the tie; padding never counts, even with a high score.
    h_best, h_tie, h_low = unit(3, 6, seed=7)
    q2 = h_best.unsqueeze(0)  # the query is the best item's own vector
    if float(q2[0] @ h_tie) < float(q2[0] @ h_low):
        h_tie, h_low = h_low, h_tie
    H2 = torch.stack([h_best, h_tie, h_best, h_tie, h_tie, h_low]).unsqueeze(0)  # (1, 6, 6)
    mask = torch.tensor([[1, 1, 0, 1, 1, 1]], dtype=torch.bool)
    w2 = aggregation_weights(q2, H2, mask, "topk", top_k=2)
    assert torch.nonzero(w2[0]).flatten().tolist() == [0, 1]
    torch.testing.assert_close(w2, hand_softmax(q2, H2, mask, 1.0, keep=[{0, 1}]), atol=1e-12, rtol=0)
    w3 = aggregation_weights(q2, H2, mask, "topk", top_k=4)  # the whole tie and the best: 4 items, 5 not
    assert torch.nonzero(w3[0]).flatten().tolist() == [0, 1, 3, 4]
