"""Training only the plug: a frozen LLM, falling loss, accumulation, resuming, seeds and DDP.

Every check compares against a reference computed here independently (by hand, by the plain HF model, or
by a second run), never against the code path under test.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pplug_tiny as tiny
import pytest
import torch
from pplug_tiny import (
    assert_states_equal,
    setup_plug,
    state,
)

from minipplug.engine.train import batch_loss, read_training_state, train_loop
from minipplug.model.injection import PPlugLM
from minipplug.model.plug import CheckpointError, load_plug, soft_tokens


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    result = train_loop(cfg, plug, plm, hist, examples)
    assert result.steps == 6  # 2 epochs of 3 batches: the cache served every later lookup
    assert sorted(encoded) == sorted(distinct)  # each distinct text once, nothing twice
    assert hist.encoder.texts_encoded == len(distinct)
    # A second run over the same examples (its two epochs included) encodes nothing.
    train_loop(cfg, plug, plm, hist, examples)
    assert hist.encoder.texts_encoded == len(distinct)


def test_training_with_hidden_history_stays_finite(plm):
    cfg = tiny.tiny_config(epochs=1.0)
    plug, hist = setup_plug(cfg, plm)
    before = state(plug)
    result = train_loop(cfg, plug, plm, hist, tiny.tiny_examples(), hide_history=True)
    after = state(plug)
    assert all(math.isfinite(loss) for _, loss in result.losses)
    assert all(torch.isfinite(v).all() for v in after.values())
    assert hist.encoder.texts_encoded == 0  # nothing to encode when histories are hidden
    assert not torch.equal(before["instruction.vector"], after["instruction.vector"])
    # The projector never sees a history item: it gets no gradient (weight decay is 0 here) and stays put.
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("projector."))


def test_llm_stays_frozen_and_plug_moves(plm):
    cfg = tiny.tiny_config(epochs=1.0)
    plug, hist = setup_plug(cfg, plm)
    llm_before = {k: v.clone() for k, v in plm.model.state_dict().items()}
    plug_before = state(plug)
    result = train_loop(cfg, plug, plm, hist, tiny.tiny_examples())
    assert result.steps == 3
    for name, p in plm.model.named_parameters():
        assert p.grad is None and not p.requires_grad, name
    for k, v in plm.model.state_dict().items():
        assert torch.equal(v, llm_before[k]), k  # bitwise unchanged
    after = state(plug)
    for prefix in ("projector.", "instruction.", "input_encoder.model.embeddings."):
        assert any(not torch.equal(plug_before[k], after[k]) for k in after if k.startswith(prefix)), prefix
    assert not plm.model.training


def test_a_plug_trained_in_bf16_computes_like_its_saved_copy(plm, tmp_path):
    # Mixed precision is for the training steps only: the plug handed back, and the one loaded from its
    # checkpoint, both compute in fp32 and give bit-identical soft tokens.
    from minipplug.model.plug import load_plug

    cfg = tiny.tiny_config(epochs=1.0, precision="bf16")
    plug, hist = setup_plug(cfg, plm)
    examples = tiny.tiny_examples()
    result = train_loop(cfg, plug, plm, hist, examples, out_dir=tmp_path / "ck")
    loaded = load_plug(tmp_path / "ck", plug.input_encoder, plm.dim).eval()
    result.plug.eval()
    with torch.no_grad():
        a, _ = soft_tokens(result.plug, hist, examples)
        b, _ = soft_tokens(loaded, hist, examples)
    assert a.dtype == torch.float32 and torch.equal(a, b)


def test_loss_falls_on_a_fixed_batch():
    # A small-vocabulary Llama: the two soft tokens can move its loss visibly within 30 steps.
    plm = PPlugLM(tiny.tiny_llama(tokenizer=tiny.word_tokenizer(bos=True)), chat_template=False)
    cfg = tiny.tiny_config(batch_size=4, epochs=30.0, lr=1e-2, chat_template=False)
    examples = tiny.tiny_examples()[:4]
    plug, hist = setup_plug(cfg, plm)
    with torch.no_grad():
        before = float(batch_loss(plug, plm, hist, examples))
    result = train_loop(cfg, plug, plm, hist, examples)
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
        result = train_loop(cfg, plug, plm, hist, examples, stop_after_steps=stop)
        assert result.steps == stop
        snapshots.append(state(result.plug))
        assert all(p.grad is None or not p.grad.any() for p in result.plug.parameters())
    assert result.steps == 4 and len(result.losses) == 4  # 2 optimizer steps per epoch
    for a, b in zip(snapshots, snapshots[1:]):  # every step, the one-micro-batch group included, moves the plug
        assert any(not torch.equal(a[k], b[k]) for k in a)


def test_resume_equals_uninterrupted_run(plm, tmp_path):
    cfg = tiny.tiny_config(epochs=2.0, warmup_ratio=0.2)  # 6 steps, a warm-up and a decay to resume inside
    examples = tiny.tiny_examples()
    plug_a, hist_a = setup_plug(cfg, plm)
    full = train_loop(cfg, plug_a, plm, hist_a, examples, out_dir=tmp_path / "A")
    assert full.steps == 6

    plug_b, hist_b = setup_plug(cfg, plm)
    part = train_loop(cfg, plug_b, plm, hist_b, examples, out_dir=tmp_path / "B", stop_after_steps=2)
    assert part.steps == 2 and json.loads((tmp_path / "B" / "losses.json").read_text())["train"][-1][0] == 2
    assert any(
        not torch.equal(v, full.plug.trainable_state_dict()[k]) for k, v in part.plug.trainable_state_dict().items()
    )
    fresh, hist_c = setup_plug(cfg, plm)  # a new process would build exactly this
    resumed = train_loop(cfg, fresh, plm, hist_c, examples, out_dir=tmp_path / "B", resume=True)
    assert resumed.steps == 6
    assert_states_equal(full.plug.trainable_state_dict(), resumed.plug.trainable_state_dict())
    assert [s for s, _ in resumed.losses] == list(range(1, 7))
    np.testing.assert_allclose([x for _, x in resumed.losses], [x for _, x in full.losses], rtol=0, atol=1e-6)
    loaded = load_plug(tmp_path / "B", tiny.tiny_sentence_encoder(), plm.dim)
    assert_states_equal(full.plug.trainable_state_dict(), loaded.trainable_state_dict())
    with pytest.raises(CheckpointError, match="no training state"):
        train_loop(cfg, fresh, plm, hist_c, examples, out_dir=tmp_path / "nothing", resume=True)


class _Crash(RuntimeError):
    pass


def test_periodic_saves_resume_after_a_crash_equal_uninterrupted_run(plm, tmp_path):
    """save_every=2, then the process dies inside step 5: resuming from the step-4 save ends bit for bit equal."""
    cfg = tiny.tiny_config(epochs=2.0, warmup_ratio=0.2)  # 6 steps
    examples = tiny.tiny_examples()
    plug_a, hist_a = setup_plug(cfg, plm)
    full = train_loop(cfg, plug_a, plm, hist_a, examples, out_dir=tmp_path / "A")

    plug_b, hist_b = setup_plug(cfg, plm)
    calls, original = [], hist_b.batch

    def dying(*args, **kwargs):  # one history lookup per step's batch: die in the fifth
        calls.append(1)
        if len(calls) == 5:
            raise _Crash("killed")
        return original(*args, **kwargs)

    hist_b.batch = dying
    with pytest.raises(_Crash):
        train_loop(cfg, plug_b, plm, hist_b, examples, out_dir=tmp_path / "B", save_every=2)
    saved = json.loads((tmp_path / "B" / "training_state.json").read_text())
    assert saved["step"] == 4 and json.loads((tmp_path / "B" / "plug_config.json").read_text())["steps"] == 4
    assert not list(tmp_path.glob(".B.*"))  # each periodic save replaced the folder as a whole
    fresh, hist_c = setup_plug(cfg, plm)
    resumed = train_loop(cfg, fresh, plm, hist_c, examples, out_dir=tmp_path / "B", resume=True, save_every=2)
    assert resumed.steps == 6 and [s for s, _ in resumed.losses] == list(range(1, 7))
    assert_states_equal(full.plug.trainable_state_dict(), resumed.plug.trainable_state_dict())
    assert (tmp_path / "A" / "plug.safetensors").read_bytes() == (tmp_path / "B" / "plug.safetensors").read_bytes()
    a, b = (read_training_state(tmp_path / x) for x in "AB")
    assert_states_equal(a[0], b[0])
    for pid in a[1]["state"]:
        assert_states_equal(a[1]["state"][pid], b[1]["state"][pid])  # AdamW moments and step counts too
    assert a[1]["param_groups"] == b[1]["param_groups"] and a[2]["scheduler"] == b[2]["scheduler"]


def test_training_state_is_safetensors_and_json_only(plm, tmp_path):
    cfg = tiny.tiny_config(epochs=1.0)
    plug, hist = setup_plug(cfg, plm)
    train_loop(cfg, plug, plm, hist, tiny.tiny_examples(), out_dir=tmp_path / "A")
    names = {p.name for p in (tmp_path / "A").iterdir()}
    assert {"training_state.safetensors", "training_state.json"} <= names
    assert not any(n.endswith((".pt", ".pkl", ".bin")) for n in names)
    doc = json.loads((tmp_path / "A" / "training_state.json").read_text())
    assert doc["step"] == 3 and doc["scheduler"]["last_epoch"] == 3


class _Payload:
    """Unpickling this runs code: it creates the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("where", ["training_state.pt", "training_state.safetensors", "training_state.json"])
def test_pickled_training_state_is_refused_and_never_run(plm, tmp_path, where):
    import pickle

    cfg = tiny.tiny_config(epochs=1.0)
    plug, hist = setup_plug(cfg, plm)
    out = tmp_path / "ckpt"
    train_loop(cfg, plug, plm, hist, tiny.tiny_examples(), out_dir=out)
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"plug": _Payload(marker)})
    if where == "training_state.pt":  # a legacy pickled state, alone
        (out / "training_state.safetensors").unlink()
        (out / "training_state.json").unlink()
    (out / where).write_bytes(payload)
    if where == "training_state.pt":
        torch.save({"plug": _Payload(marker)}, out / where)  # the form torch.save gives it, too
    fresh, hist2 = setup_plug(cfg, plm)
    with pytest.raises(CheckpointError, match=where.replace(".", r"\.")):
        train_loop(cfg, fresh, plm, hist2, tiny.tiny_examples(), out_dir=out, resume=True)
    assert not marker.exists()


def test_resume_with_other_settings_is_refused(plm, tmp_path):
    cfg = tiny.tiny_config(epochs=2.0)
    plug, hist = setup_plug(cfg, plm)
    train_loop(cfg, plug, plm, hist, tiny.tiny_examples(), out_dir=tmp_path / "A", stop_after_steps=2)
    other = cfg.replace(lr=cfg.lr * 2)
    fresh, hist2 = setup_plug(other, plm)
    with pytest.raises(CheckpointError, match="other settings.*lr"):
        train_loop(other, fresh, plm, hist2, tiny.tiny_examples(), out_dir=tmp_path / "A", resume=True)


def test_seeded_runs_are_identical(plm):
    cfg = tiny.tiny_config(epochs=1.0)
    runs = []
    for _ in range(2):
        plug, hist = setup_plug(cfg, plm)
        runs.append(train_loop(cfg, plug, plm, hist, tiny.tiny_examples()))
    assert_states_equal(runs[0].plug.trainable_state_dict(), runs[1].plug.trainable_state_dict())
    assert runs[0].losses == runs[1].losses
    plug, hist = setup_plug(cfg.replace(seed=1), plm)
    other = train_loop(cfg.replace(seed=1), plug, plm, hist, tiny.tiny_examples())
    assert other.losses != runs[0].losses


def launch(launcher: str, out: Path, mode: str = "fixed") -> subprocess.CompletedProcess:
    """ddp_train_script.py in 2 CPU processes (gloo), started by `accelerate launch` or torchrun."""
    script = Path(__file__).resolve().parents[1] / "ddp_train_script.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("ACCELERATE_USE_CPU", None)  # the training loop must find the CPU launch on its own
    port = str(free_port())
    if launcher == "accelerate":
        cmd = [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "--main_process_port",
            port,
        ]
    else:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            port,
        ]
    # Its own process group: a run that hangs (processes disagreeing on a collective) is killed whole.
    proc = subprocess.Popen(
        [*cmd, str(script), str(out), mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"the 2-process run hung (killed after 240 s): {stderr[-3000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.parametrize("launcher", ["accelerate", "torchrun"])
def test_ddp_ranks_end_identical(tmp_path, launcher):
    """Two CPU processes (gloo) train the plug on halves of each batch; DDP keeps their weights identical.

    `accelerate launch --cpu --num_processes 2` starts one process unless MPI is installed, so the accelerate
    variant uses --multi_gpu, which launches through torchrun; on a machine without GPUs the training loop then
    asks accelerate for the CPU (gloo) backend itself.
    """
    from safetensors.torch import load_file

    proc = launch(launcher, tmp_path / "out")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    infos = [json.loads((tmp_path / "out" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [i["world"] for i in infos] == [2, 2] and [i["rank"] for i in infos] == [0, 1]
    assert all(i["moved"] and i["steps"] == 4 for i in infos)
    assert infos[0]["losses"] != infos[1]["losses"]  # each rank saw its own half of every batch
    w0, w1 = (load_file(str(tmp_path / "out" / f"rank{r}.safetensors")) for r in (0, 1))
    assert_states_equal(w0, w1)


@pytest.mark.parametrize("mode,reason", [("time-cap", "time cap of 3 s"), ("patience", "no gain in 2 checks")])
def test_ddp_ranks_stop_together(tmp_path, mode, reason):
    """Each process's clock (or validation score) says something else; rank 0's decision is taken by both, so
    neither runs into a collective alone (which would hang), and both keep the same plug."""
    from safetensors.torch import load_file

    proc = launch("torchrun", tmp_path / "out", mode)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    infos = [json.loads((tmp_path / "out" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [i["steps"] for i in infos] == [3, 3]
    assert infos[0]["stop"] == infos[1]["stop"] and reason in infos[0]["stop"][1] and infos[0]["stop"][0] == 3
    w0, w1 = (load_file(str(tmp_path / "out" / f"rank{r}.safetensors")) for r in (0, 1))
    assert_states_equal(w0, w1)


def tiny_stack(cfg):
    from minipplug.engine.stack import Stack
    from minipplug.model.encoder import HistoryEncoder

    enc = tiny.tiny_sentence_encoder()
    return Stack(cfg, PPlugLM(tiny.tiny_llama(), True, 256, "input"), enc, HistoryEncoder(enc, "tiny-bert"))


def many_users(copies: int) -> list:
    """tiny_examples() again and again, each copy's users renamed: 4 users and 6 examples per copy."""
    from dataclasses import replace

    return [replace(e, id=f"{e.id}-{c}", user=f"{e.user}-{c}") for c in range(copies) for e in tiny.tiny_examples()]


def worst_plug_monitor(cfg, stack, val):
    """A monitor that keeps the plug with the *highest* validation loss: the first check's, before most learning,
    so that the best plug is found early and patience (2) ends the run early, at a step fixed by the scores."""
    from minipplug.engine.autostop import AutoStop
    from minipplug.engine.train import dev_loss

    loss = lambda p: dev_loss(p, stack.plm, stack.hist, val, 4)  # noqa: E731
    return AutoStop(loss, every=1, patience=2, max_seconds=1e9, max_epochs=4, higher_is_better=True)


def test_resume_in_automatic_mode_keeps_the_monitor(tmp_path):
    """Interrupted after the best plug was found and one check without a gain: the resumed run keeps that plug,
    counts patience on, and stops at the same step with the same reason, bit for bit the same plug."""
    from minipplug.engine.stack import new_plug

    cfg = tiny.tiny_config(epochs=4.0)
    stack = tiny_stack(cfg)
    ex = many_users(2)
    fit, val = ex[:8], ex[8:]
    runs = {}
    for name, stop in (("full", None), ("cut", 2)):
        mon = worst_plug_monitor(cfg, stack, val)
        runs[name] = train_loop(
            cfg,
            new_plug(stack, cfg),
            stack.plm,
            stack.hist,
            fit,
            monitor=mon,
            out_dir=tmp_path / name,
            stop_after_steps=stop,
        )
    full = runs["full"].autostop
    assert full.best_step == 1 and full.stopped_at == 3 and "no gain in 2 checks" in full.reason
    assert runs["cut"].steps == 2 and [c[0] for c in runs["cut"].autostop.checks] == [1, 2]
    mon = worst_plug_monitor(cfg, stack, val)
    resumed = train_loop(
        cfg, new_plug(stack, cfg), stack.plm, stack.hist, fit, monitor=mon, out_dir=tmp_path / "cut", resume=True
    )
    assert (mon.best_step, mon.stopped_at, mon.reason) == (full.best_step, full.stopped_at, full.reason)
    assert [c[:2] for c in mon.checks] == [c[:2] for c in full.checks] and resumed.steps == 3
    a, b = ((tmp_path / d / "plug.safetensors").read_bytes() for d in ("full", "cut"))
    assert a == b
    assert_states_equal(runs["full"].plug.trainable_state_dict(), resumed.plug.trainable_state_dict())


def test_resuming_a_finished_automatic_run_changes_nothing(tmp_path):
    """The final state pairs the last step's plug with its optimizer and schedule (the chosen plug is saved
    beside it): resuming a run that already stopped trains no step and leaves the chosen plug as it was."""
    from minipplug.engine.stack import new_plug

    cfg = tiny.tiny_config(epochs=4.0)
    stack = tiny_stack(cfg)
    ex = many_users(2)
    fit, val = ex[:8], ex[8:]
    first = train_loop(
        cfg,
        new_plug(stack, cfg),
        stack.plm,
        stack.hist,
        fit,
        monitor=worst_plug_monitor(cfg, stack, val),
        out_dir=tmp_path / "A",
    )
    chosen = (tmp_path / "A" / "plug.safetensors").read_bytes()
    plug_state, _, rest, best = read_training_state(tmp_path / "A")
    assert rest["step"] == 3 and rest["scheduler"]["last_epoch"] == 3  # the optimizer's and schedule's step
    assert_states_equal(best, first.plug.trainable_state_dict())  # the chosen plug (step 1)
    assert any(not torch.equal(plug_state[k], best[k]) for k in best)  # the state's plug is step 3's
    again = train_loop(
        cfg,
        new_plug(stack, cfg),
        stack.plm,
        stack.hist,
        fit,
        monitor=worst_plug_monitor(cfg, stack, val),
        out_dir=tmp_path / "A",
        resume=True,
    )
    assert again.steps == 3 and len(again.losses) == 3 and (tmp_path / "A" / "plug.safetensors").read_bytes() == chosen
    assert again.autostop.best_step == 1 and again.autostop.reason == first.autostop.reason


def test_max_train_examples_cuts_before_the_validation_split(monkeypatch, tmp_path):
    from minipplug.engine.autostop import AutoLength

    train_module = sys.modules["minipplug.engine.train"]  # the module (minipplug.train is its function)

    seen = []
    real = train_module.split_validation_users
    monkeypatch.setattr(train_module, "split_validation_users", lambda ex, *a: seen.append(ex) or real(ex, *a))
    cfg = tiny.tiny_config(max_train_examples=12, epochs=1.0)
    ex = many_users(6)  # 36 examples of 24 users
    result = train_module.train(tiny_stack(cfg), ex, auto=AutoLength(every=1, patience=99, max_epochs=1))
    assert [e.id for e in seen[0]] == [e.id for e in ex[:12]]  # the split sees the cut file only
    fit = 12 - int(result.autostop.validation.split()[0])
    assert 1 <= fit < 12 and result.steps == math.ceil(fit / cfg.batch_size)  # one epoch of the rest
    assert "held-out users (at most 256)" in result.autostop.validation


@pytest.mark.parametrize(
    "flags,native",
    [
        ("fpu sse2 avx2 avx512f avx512bw avx512_vnni", False),  # Cascade Lake: oneDNN would say yes
        ("fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni", True),  # Cooper Lake, Zen 4
        ("fpu sse2 avx2 avx512f amx_bf16 amx_tile", True),  # Sapphire Rapids
    ],
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    from minipplug.engine.train import cpu_has_bf16

    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    assert cpu_has_bf16(str(info)) is native
    assert cpu_has_bf16(str(tmp_path / "none")) is False  # no flags to read (not Linux): fp32


def test_history_dropout_follows_the_authors_rule():
    """Copies drop at least one and at most half of a history of more than 2 items, keep their order, and
    leave shorter histories whole (the authors' augmentation); seeded."""
    from minipplug.engine.train import augment_history
    from minipplug.lamp.data import Example

    items = [f"item {i}" for i in range(7)]
    ex = [
        Example(f"e{n}", "x", "x", items[:n], [{"text": t} for t in items[:n]], "t", f"u{n}") for n in (0, 1, 2, 3, 7)
    ]
    out = augment_history(ex, copies=40, seed=0)
    assert out[: len(ex)] == ex and len(out) == len(ex) * 41
    for e in out[len(ex) :]:
        n = int(e.id[1:])
        assert e.history == [t for t in items[:n] if t in e.history]  # a subsequence, in order
        assert [p["text"] for p in e.profile] == e.history and e.target == "t"
        assert len(e.history) == n if n <= 2 else n - n // 2 <= len(e.history) <= n - 1
    kept = {len(e.history) for e in out if e.id == "e7"}
    assert kept == {7, 4, 5, 6}  # the original, and every allowed length among 40 copies
    assert augment_history(ex, copies=40, seed=0) == out
