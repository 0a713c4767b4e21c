"""Automatic training length: validation users carved out of the training file, early stopping, best plug kept.

Used by `minipplug train` when no --epochs is given. A fixed number of epochs tuned on one dataset trains too
little, or too much, on another. Instead: hold out a seeded share of the training *users* (so validation
measures new users, as LaMP's user-based split does), measure them every `every` optimizer steps, keep the
best plug state, and stop when validation has not improved for `patience` checks or a cap is reached (an
epoch cap, which also sets the length of the learning-rate schedule, and a time cap).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..errors import InputError
from ..lamp.data import Example


@dataclass(frozen=True)
class AutoLength:
    """How `train` decides its length when no epoch count is given (see engine.autostop)."""

    share: float = 0.15  # of the training users held out for validation
    every: int = 0  # optimizer steps between validation checks (0: twice per epoch)
    patience: int = 3  # checks without a gain before stopping
    max_epochs: float = 8.0  # the epoch cap (also the length of the learning-rate schedule)
    max_seconds: float = 1200.0  # the time cap


def split_validation_users(examples: list[Example], share: float = 0.15, seed: int = 0) -> tuple[list, list]:
    """(fit, validation): every example of a seeded share of the users (at least one) goes to validation."""
    key = lambda e: e.user if e.user is not None else f"_id:{e.id}"
    users = sorted({key(e) for e in examples})
    if len(users) < 2:
        raise InputError("automatic training length needs at least 2 users in the training file (or give --epochs)")
    n_val = min(len(users) - 1, max(1, round(share * len(users))))
    held = set(random.Random(f"validation-{seed}").sample(users, n_val))
    return [e for e in examples if key(e) not in held], [e for e in examples if key(e) in held]


@dataclass
class AutoStop:
    """train_plug's monitor: a validation score every `every` steps, patience, caps, the best state kept.

    metric(plug) -> float is the validation score (lower is better unless higher_is_better).
    """

    metric: Callable
    every: int
    patience: int = 3
    max_seconds: float = 1200.0
    max_epochs: float = 8.0
    higher_is_better: bool = False
    metric_name: str = "validation loss"
    checks: list = field(default_factory=list)  # [(step, score, seconds)]
    best_step: int = 0
    best_score: float | None = None
    reason: str = ""
    stopped_at: int = 0
    _best: dict | None = None
    _bad: int = 0
    _t0: float | None = None

    def _better(self, score: float) -> bool:
        if self.best_score is None:
            return True
        return score > self.best_score if self.higher_is_better else score < self.best_score

    def check(self, step: int, plug) -> None:
        """Score the plug on validation; remember its state when it is the best so far."""
        was_training = plug.training
        plug.eval()
        with torch.no_grad():
            score = float(self.metric(plug))
        plug.train(was_training)
        self.checks.append((step, score, round(time.perf_counter() - self._t0, 1)))
        if self._better(score):
            self.best_score, self.best_step, self._bad = score, step, 0
            self._best = {k: v.detach().to("cpu", copy=True) for k, v in plug.trainable_state_dict().items()}
        else:
            self._bad += 1

    def __call__(self, step: int, plug) -> bool:
        """After an optimizer step: check when due; True ends training (patience spent or time cap reached)."""
        if self._t0 is None:
            self._t0 = time.perf_counter()
        out_of_time = time.perf_counter() - self._t0 >= self.max_seconds
        if step % self.every == 0 or out_of_time:
            self.check(step, plug)
        if self._bad >= self.patience:
            self.reason = f"no gain in {self.patience} checks"
        elif out_of_time:
            self.reason = f"the time cap of {self.max_seconds:.0f} s was reached"
        else:
            return False
        self.stopped_at = step
        return True

    def finish(self, step: int, plug) -> None:
        """After training: a last check at the final step, then the best state goes back into the plug."""
        if self._t0 is None:
            self._t0 = time.perf_counter()
        if not self.reason:
            if not self.checks or self.checks[-1][0] != step:
                self.check(step, plug)
            self.reason, self.stopped_at = f"the epoch cap of {self.max_epochs:g} was reached", step
        if self._best is not None:
            plug.load_state_dict(self._best, strict=False)

    def summary(self) -> str:
        """One line: what was chosen and why."""
        return (
            f"stopped at step {self.stopped_at}: {self.reason}; kept the plug of step {self.best_step} "
            f"({self.metric_name} {self.best_score:.4f}; checked every {self.every} steps, "
            f"caps {self.max_epochs:g} epochs / {self.max_seconds:.0f} s)"
        )
