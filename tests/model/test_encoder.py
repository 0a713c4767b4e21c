"""Enc_his and Enc_input on tiny random encoders: pooling by hand, the history cache, batch independence.

Every check compares against a reference computed here independently (by hand, by the plain HF model, or
by a second run), never against the code path under test.
"""

from __future__ import annotations

import pplug_tiny as tiny
import pytest
import torch
from pplug_tiny import (
    ENC,
)

from minipplug.model.encoder import HistoryEncoder


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
        assert not torch.allclose(
            tiny.tiny_sentence_encoder(pooling="mean")(texts), tiny.tiny_sentence_encoder(pooling="cls")(texts)
        )
    with pytest.raises(ValueError, match="pooling"):
        tiny.tiny_sentence_encoder(pooling="max")


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
