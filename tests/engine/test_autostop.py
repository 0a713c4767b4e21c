"""Automatic training length: validation users, patience, caps, the best plug kept (tiny random models)."""

from __future__ import annotations

import json

import pytest
import torch
from pplug_tiny import tiny_config, tiny_examples, tiny_llama, tiny_sentence_encoder

from minipplug.engine.autostop import MAX_VALIDATION, AutoLength, AutoStop, split_validation_users
from minipplug.engine.stack import Stack
from minipplug.engine.train import train
from minipplug.lamp.data import Example
from minipplug.model.encoder import HistoryEncoder
from minipplug.model.injection import PPlugLM


def examples(n_users: int, per_user: int = 2) -> list[Example]:
    return [Example(f"{u}-{i}", "x", "x", [], [], "t", f"u{u}") for u in range(n_users) for i in range(per_user)]


def test_validation_users_are_held_out_whole_seeded_and_never_all() -> None:
    ex = examples(20)
    fit, val = split_validation_users(ex, 0.15, seed=0)
    assert {e.user for e in fit}.isdisjoint({e.user for e in val})  # whole users, as LaMP's user-based split
    assert len({e.user for e in val}) == 3 and len(fit) + len(val) == len(ex)
    assert split_validation_users(ex, 0.15, seed=0) == (fit, val)  # seeded
    assert {e.user for e in split_validation_users(ex, 0.15, seed=1)[1]} != {e.user for e in val}
    assert len({e.user for e in split_validation_users(examples(2), 0.9, 0)[0]}) == 1  # at least one user trains
    with pytest.raises(ValueError, match="at least 2 users"):
        split_validation_users(examples(1), 0.15, 0)


class FakePlug(torch.nn.Module):
    """A plug whose one weight is its step count: the state that validation keeps is visible."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def trainable_state_dict(self):
        return {"w": self.w.detach().clone()}


def run(stop: AutoStop, scores: list[float], steps: int) -> FakePlug:
    plug, it = FakePlug(), iter(scores)
    stop.metric = lambda p: next(it)
    for step in range(1, steps + 1):
        with torch.no_grad():
            plug.w.fill_(step)
        if stop(step, plug):
            break
    stop.finish(step, plug)
    stop.restore_best(plug)
    return plug


def test_patience_stops_and_the_best_state_comes_back() -> None:
    stop = AutoStop(metric=None, every=2, patience=2, max_seconds=1e9, max_epochs=8)
    plug = run(stop, [3.0, 2.0, 2.5, 2.4, 9.9], steps=20)
    # Checks at steps 2, 4, 6, 8: best at 4, no gain at 6 and 8 -> stop at 8; the plug of step 4 comes back.
    assert [c[0] for c in stop.checks] == [2, 4, 6, 8] and stop.stopped_at == 8
    assert stop.best_step == 4 and float(plug.w.detach()) == 4.0
    assert "no gain in 2 checks" in stop.summary() and "kept the plug of step 4" in stop.summary()


def test_the_epoch_cap_ends_with_a_last_check() -> None:
    stop = AutoStop(metric=None, every=4, patience=3, max_seconds=1e9, max_epochs=2)
    plug = run(stop, [5.0, 4.0, 3.0], steps=10)  # checks at 4 and 8, then the last step 10
    assert [c[0] for c in stop.checks] == [4, 8, 10] and stop.best_step == 10 and float(plug.w.detach()) == 10.0
    assert "epoch cap of 2" in stop.reason


def test_the_time_cap_stops_at_once_when_it_is_zero() -> None:
    stop = AutoStop(metric=None, every=100, patience=3, max_seconds=0.0, max_epochs=8)
    run(stop, [1.0, 1.0], steps=10)
    assert stop.stopped_at == 1 and "time cap" in stop.reason


def test_train_with_automatic_length_on_a_tiny_stack(tmp_path) -> None:
    cfg = tiny_config(batch_size=2)
    enc = tiny_sentence_encoder()
    stack = Stack(cfg, PPlugLM(tiny_llama(), True, 256, "input"), enc, HistoryEncoder(enc, "tiny-bert"))
    ex = tiny_examples()
    result = train(
        stack, ex, None, "pplug", out_dir=tmp_path / "ck", auto=AutoLength(every=1, patience=2, max_epochs=3)
    )
    stop = result.autostop
    held = {e.user for e in ex} - {e.user for e in split_validation_users(ex, 0.15, cfg.seed)[0]}
    assert len(held) == 1 and stop.checks and 1 <= result.steps
    # The saved plug is the one validation chose: its weights equal the best state kept in memory.
    from minipplug.engine.stack import open_plug

    saved = open_plug(stack, tmp_path / "ck").trainable_state_dict()
    assert all(torch.equal(saved[k], v) for k, v in result.plug.trainable_state_dict().items())


class FakeClock:
    """Seconds that move only when a test moves them: no test waits or depends on machine speed."""

    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def run_steps(stop: AutoStop, plug: FakePlug, scores, steps: range, clock: FakeClock) -> bool:
    """Steps of one second each; True when the monitor ended the run."""
    stop.metric = lambda p: next(scores)
    for step in steps:
        clock.now += 1.0
        with torch.no_grad():
            plug.w.fill_(step)
        if stop(step, plug):
            return True
    return False


@pytest.mark.parametrize("cap,rule", [(1e9, "no gain in 3 checks"), (5.0, "time cap of 5 s")])
def test_a_resumed_monitor_decides_as_the_uninterrupted_one(cap: float, rule: str) -> None:
    # Uninterrupted: checks every 2 steps; the best at step 2, then no gain (patience 3) -> stop at 8, or the
    # 5 s cap (one fake second per step) -> a last check and a stop at step 5.
    scores = [1.0, 2.0, 3.0, 4.0, 5.0]
    clock_a, plug_a = FakeClock(), FakePlug()
    a = AutoStop(None, every=2, patience=3, max_seconds=cap, clock=clock_a)
    a.start()
    assert run_steps(a, plug_a, iter(scores), range(1, 20), clock_a)
    # Interrupted after step 3 (the best plug, of step 2, found before), saved as JSON + tensors, resumed
    # in a new monitor whose clock reads something else entirely (a new process, hours later).
    clock_b, plug_b, it = FakeClock(), FakePlug(), iter(scores)
    b = AutoStop(None, every=2, patience=3, max_seconds=cap, clock=clock_b)
    b.start()
    assert not run_steps(b, plug_b, it, range(1, 4), clock_b)
    doc, best = b.state_dict()
    assert doc["seconds_used"] == 3.0 and set(best) == {"w"} and float(best["w"]) == 2.0
    clock_c = FakeClock(5000.0)
    c = AutoStop(None, every=2, patience=3, max_seconds=cap, clock=clock_c)
    c.load_state_dict(json.loads(json.dumps(doc)), best)
    assert run_steps(c, plug_b, it, range(4, 20), clock_c)
    assert rule in a.reason and c.reason == a.reason and c.stopped_at == a.stopped_at
    assert [x[:2] for x in c.checks] == [x[:2] for x in a.checks] and c.best_step == a.best_step == 2
    assert [x[2] for x in c.checks] == [x[2] for x in a.checks]  # time used, not wall-clock readings
    c.restore_best(plug_b)
    a.restore_best(plug_a)
    assert float(plug_b.w.detach()) == float(plug_a.w.detach()) == 2.0


def test_the_time_cap_reads_the_injected_clock() -> None:
    clock = FakeClock(100.0)
    stop = AutoStop(None, every=100, patience=3, max_seconds=4.0, clock=clock)
    stop.start()
    assert run_steps(stop, FakePlug(), iter([1.0]), range(1, 50), clock)
    assert stop.stopped_at == 4 and "time cap" in stop.reason and stop.checks == [(4, 1.0, 4.0)]


def test_validation_is_capped_and_loses_no_user_to_the_cap() -> None:
    ex = examples(2000, per_user=1)  # 15% would be 300 questions
    fit, val = split_validation_users(ex, 0.15, seed=0, max_questions=MAX_VALIDATION)
    assert len(val) == MAX_VALIDATION == 256 and len(fit) + len(val) == len(ex)
    assert {e.user for e in fit}.isdisjoint({e.user for e in val})
    # One held-out user with more questions than the cap: that user alone, cut to the cap.
    fit, val = split_validation_users(examples(2, per_user=300), 0.5, seed=0, max_questions=256)
    assert len(val) == 256 and len({e.user for e in val}) == 1 and len(fit) == 300
