"""The faster training step: the same loss and gradients as the plain step, and the loaded LLM back after it.

References: the plain HF forward under the same autocast (bit for bit where the math is the same), and the
LLM's own objects (weights, attention setting, call path) before and after.
"""

from __future__ import annotations

import contextlib

import pplug_tiny as tiny
import pytest
import torch
from pplug_tiny import setup_plug, state

from minipplug.engine.fast_step import COMPILE_ENV, FastFrozenLLM, can_compile, decoder_blocks
from minipplug.engine.train import batch_loss, train_loop


def loss_and_grads(plm, fast: FastFrozenLLM | None, examples) -> tuple[float, dict[str, torch.Tensor]]:
    """One bf16-autocast step's loss and the plug's gradients, from a fixed plug (seed 0)."""
    cfg = tiny.tiny_config()
    plug, hist = setup_plug(cfg, plm)
    with fast.engaged() if fast else contextlib.nullcontext():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = batch_loss(plug, plm, hist, examples)
            loss.backward()
    grads = {n: p.grad.clone() for n, p in plug.named_parameters() if p.grad is not None}
    return float(loss.detach()), grads


def test_bf16_copies_of_the_block_weights_change_nothing_bit_for_bit(plm):
    examples = tiny.tiny_examples()[:4]
    loss, grads = loss_and_grads(plm, None, examples)
    fast = FastFrozenLLM(plm.model, bf16=True, compile=False)
    assert len(fast._linears) == 7 * len(decoder_blocks(plm.model))  # q, k, v, o, gate, up, down per block
    fast_loss, fast_grads = loss_and_grads(plm, fast, examples)
    assert fast_loss == loss  # autocast would have made exactly these bf16 weights at every call
    assert grads.keys() == fast_grads.keys() and all(torch.equal(grads[k], fast_grads[k]) for k in grads)


@pytest.mark.parametrize("compile", [False, True])
def test_plain_attention_and_compiled_blocks_keep_the_loss_and_the_gradients(plm, monkeypatch, compile):
    monkeypatch.setenv(COMPILE_ENV, "1")
    examples = tiny.tiny_examples()[:4]
    loss, grads = loss_and_grads(plm, None, examples)
    fast = FastFrozenLLM(plm.model, bf16=True, compile=compile, attention="eager")
    assert fast.compile == (compile and can_compile())
    fast_loss, fast_grads = loss_and_grads(plm, fast, examples)
    assert fast_loss == pytest.approx(loss, rel=0.01)  # bf16 rounding in other places, not other math
    # all of the plug's gradient as one vector (single near-zero entries, as a query bias, are bf16 noise)
    g, h = (torch.cat([d[k].flatten().float() for k in sorted(grads)]) for d in (grads, fast_grads))
    assert torch.nn.functional.cosine_similarity(g, h, dim=0) > 0.99
    assert float(h.norm() / g.norm()) == pytest.approx(1.0, abs=0.05)


def test_engaged_hands_back_the_loaded_llm_even_after_an_error(plm, monkeypatch):
    monkeypatch.setenv(COMPILE_ENV, "1")
    model = plm.model
    weights = {n: p for n, p in model.named_parameters()}
    attention = model.config._attn_implementation
    fast = FastFrozenLLM(model, bf16=True, compile=True, attention="eager")
    with pytest.raises(RuntimeError, match="inside"):
        with fast.engaged():
            assert model.config._attn_implementation == "eager"
            assert all(m.weight.dtype == torch.bfloat16 for m, _, _ in fast._linears)
            assert all(b._compiled_call_impl is not None for b in fast.blocks) == fast.compile
            raise RuntimeError("an error inside a step")
    assert model.config._attn_implementation == attention
    assert all(p is weights[n] and p.dtype == torch.float32 for n, p in model.named_parameters())
    assert all(b._compiled_call_impl is None for b in decoder_blocks(model))


def test_the_levers_are_for_bf16_on_a_cpu_only(plm, monkeypatch):
    monkeypatch.setenv(COMPILE_ENV, "1")
    on = FastFrozenLLM.for_training(plm.model, "bf16", torch.device("cpu"))
    assert on.bf16 and on.attention == "eager" and on.compile == can_compile()
    for precision, device in (("no", "cpu"), ("bf16", "cuda"), ("fp16", "cuda")):
        assert not FastFrozenLLM.for_training(plm.model, precision, torch.device(device)).active
    monkeypatch.setenv(COMPILE_ENV, "0")
    assert not can_compile() and not FastFrozenLLM.for_training(plm.model, "bf16", torch.device("cpu")).compile
    t5 = tiny.tiny_t5().model  # no decoder-only blocks to find: nothing to do
    assert decoder_blocks(t5) == [] and not FastFrozenLLM.for_training(t5, "bf16", torch.device("cpu")).active


def test_training_in_bf16_runs_every_micro_batch_through_the_fast_llm(plm, monkeypatch):
    engaged = []
    original = FastFrozenLLM.engaged

    def counting(self, step=True):
        engaged.append((self.bf16, self.attention, step))
        return original(self, step)

    monkeypatch.setattr(FastFrozenLLM, "engaged", counting)
    cfg = tiny.tiny_config(epochs=1.0, precision="bf16", batch_size=2)  # 6 examples: 3 micro-batches
    plug, hist = setup_plug(cfg, plm)
    llm_before = {k: v.clone() for k, v in plm.model.state_dict().items()}
    before = state(plug)
    result = train_loop(cfg, plug, plm, hist, tiny.tiny_examples())
    assert result.steps == 3 and engaged == [(True, "eager", True)] * 3
    assert any(not torch.equal(before[k], v) for k, v in state(plug).items())  # the plug learned
    after = plm.model.state_dict()
    assert all(after[k].dtype == v.dtype and torch.equal(after[k], v) for k, v in llm_before.items())


def test_validation_checks_run_on_the_bf16_weights_under_autocast_and_leave_the_llm_as_loaded(plm):
    """The automatic length's checks see the bf16 block weights, loaded attention, no compiled block and autocast
    on; training steps see every lever; after training the LLM is the loaded one again."""
    from minipplug.engine.autostop import AutoStop

    block = decoder_blocks(plm.model)[0]
    q_proj = block.self_attn.q_proj
    seen = []

    def metric(plug) -> float:
        seen.append(
            (
                q_proj.weight.dtype,
                plm.model.config._attn_implementation,
                block._compiled_call_impl is None,
                torch.is_autocast_enabled("cpu"),
            )
        )
        return 1.0

    cfg = tiny.tiny_config(epochs=1.0, precision="bf16", batch_size=2)
    plug, hist = setup_plug(cfg, plm)
    loaded = (q_proj.weight.dtype, plm.model.config._attn_implementation)
    monitor = AutoStop(metric, every=1, patience=9, max_seconds=1e9, max_epochs=1)
    result = train_loop(cfg, plug, plm, hist, tiny.tiny_examples(), monitor=monitor)
    assert result.steps == 3 and len(seen) == 3  # a check after every step (the final one included)
    assert seen == [(torch.bfloat16, loaded[1], True, True)] * 3
    assert (q_proj.weight.dtype, plm.model.config._attn_implementation) == loaded == (torch.float32, loaded[1])
    assert block._compiled_call_impl is None
