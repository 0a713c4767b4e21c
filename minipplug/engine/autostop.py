"""Automatic training length: validation users carved out of the training file, early stopping, best plug kept.

Used by `minipplug train` with the cpu-auto preset when no epoch count is given. A fixed number of epochs tuned
on one dataset trains too little, or too much, on another. Instead: hold out a seeded share of the training
*users* (so validation measures new users, as LaMP's user-based split does), at most MAX_VALIDATION questions
so that a check stays cheap, measure them every `every` optimizer steps, keep the best plug state, and stop
when validation has not improved for `patience` checks or a cap is reached (an epoch cap, which also sets the
length of the learning-rate schedule, and a time cap).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..errors import InputError
from ..lamp.data import Example

MAX_VALIDATION = 256  # questions held out at most: a check then costs about as much as 256 / batch_size steps


@dataclass(frozen=True)
class AutoLength:
    """How `train` decides its length when no epoch count is given (see engine.autostop)."""

    share: float = 0.15  # of the training users held out for validation
    every: int = 0  # optimizer steps between validation checks (0: twice per epoch)
    patience: int = 3  # checks without a gain before stopping
    max_epochs: float = 8.0  # the epoch cap (also the length of the learning-rate schedule)
    max_seconds: float = 1200.0  # the time cap
    max_validation: int = MAX_VALIDATION  # validation questions at most


def _user(e: Example) -> str:
    return e.user if e.user is not None else f"_id:{e.id}"


def split_validation_users(
    examples: list[Example], share: float = 0.15, seed: int = 0, max_questions: int = MAX_VALIDATION
) -> tuple[list, list]:
    """(fit, validation): every example of a seeded share of the users (at least one) goes to validation.

    Users are drawn in a seeded order until the share is reached or the next one would bring validation past
    max_questions; the first user is always held out (cut to max_questions if it has more).
    """
    users = sorted({_user(e) for e in examples})
    if len(users) < 2:
        raise InputError("automatic training length needs at least 2 users in the training file (or give --epochs)")
    n_val = min(len(users) - 1, max(1, round(share * len(users))))
    per_user: dict[str, int] = {}
    for e in examples:
        per_user[_user(e)] = per_user.get(_user(e), 0) + 1
    held, size = set(), 0
    for u in random.Random(f"validation-{seed}").sample(users, n_val):
        if held and size + per_user[u] > max_questions:
            break
        held.add(u)
        size += per_user[u]
    val = [e for e in examples if _user(e) in held][:max_questions]
    return [e for e in examples if _user(e) not in held], val


def _alone(values: list[float]) -> list[float]:
    """A single process's "shared" values: its own."""
    return values


@dataclass
class AutoStop:
    """The training loop's monitor: a validation score every `every` steps, patience, caps, the best state kept.

    metric(plug) -> float is the validation score (lower is better unless higher_is_better). clock() -> seconds
    (injectable, so that tests never wait). share(values) -> values returns rank 0's values in every process of
    a multi-process run, so that all processes take the same decision and none runs into a collective alone.
    """

    metric: Callable
    every: int
    patience: int = 3
    max_seconds: float = 1200.0
    max_epochs: float = 8.0
    higher_is_better: bool = False
    metric_name: str = "validation loss"
    clock: Callable[[], float] = time.perf_counter
    share: Callable[[list[float]], list[float]] = _alone
    checks: list = field(default_factory=list)  # [(step, score, seconds used)]
    best_step: int = 0
    best_score: float | None = None
    reason: str = ""
    stopped_at: int = 0
    used_before: float = 0.0  # seconds used by the run before it was resumed
    validation: str = ""  # what was held out, for the summary (e.g. "40 questions of 40 users (at most 256)")
    _best: dict | None = None
    _bad: int = 0
    _t0: float | None = None

    def start(self) -> None:
        """The run (or its resumed part) begins: the time cap counts from here, on top of used_before."""
        self._t0 = self.clock()

    def _own_seconds(self) -> float:
        if self._t0 is None:
            self.start()
        return self.used_before + self.clock() - self._t0

    def seconds_used(self) -> float:
        """Training time used so far, resumed parts included; rank 0's in every process of a multi-process run."""
        return self.share([self._own_seconds()])[0]

    def _better(self, score: float) -> bool:
        if self.best_score is None:
            return True
        return score > self.best_score if self.higher_is_better else score < self.best_score

    def check(self, step: int, plug, seconds: float) -> None:
        """Score the plug on validation; remember its state when it is the best so far."""
        was_training = plug.training
        plug.eval()
        with torch.no_grad():
            score = self.share([float(self.metric(plug))])[0]  # rank 0's score decides everywhere
        plug.train(was_training)
        self.checks.append((step, score, round(seconds, 1)))
        if self._better(score):
            self.best_score, self.best_step, self._bad = score, step, 0
            self._best = {k: v.detach().to("cpu", copy=True) for k, v in plug.trainable_state_dict().items()}
        else:
            self._bad += 1

    def __call__(self, step: int, plug) -> bool:
        """After an optimizer step: check when due; True ends training (patience spent or time cap reached)."""
        seconds = self.seconds_used()
        out_of_time = seconds >= self.max_seconds
        if step % self.every == 0 or out_of_time:
            self.check(step, plug, seconds)
        if self._bad >= self.patience:
            self.reason = f"no gain in {self.patience} checks"
        elif out_of_time:
            self.reason = f"the time cap of {self.max_seconds:.0f} s was reached"
        else:
            return False
        self.stopped_at = step
        return True

    def finish(self, step: int, plug) -> None:
        """After training: a last check at the final step (unless a stop rule already ended the run)."""
        if self.reason:
            return
        if not self.checks or self.checks[-1][0] != step:
            self.check(step, plug, self.seconds_used())
        self.reason, self.stopped_at = f"the epoch cap of {self.max_epochs:g} was reached", step

    def restore_best(self, plug) -> None:
        """Put the best state validation saw back into the plug."""
        if self._best is not None:
            plug.load_state_dict(self._best, strict=False)

    def state_dict(self) -> tuple[dict, dict]:
        """(JSON-able progress, best tensors): what a resumed run needs to decide as the uninterrupted one."""
        doc = {
            "checks": self.checks,
            "best_step": self.best_step,
            "best_score": self.best_score,
            "bad": self._bad,
            "reason": self.reason,
            "stopped_at": self.stopped_at,
            "seconds_used": self._own_seconds(),  # no collective: only rank 0 saves
        }
        return doc, dict(self._best or {})

    def load_state_dict(self, doc: dict, best: dict) -> None:
        """Continue from state_dict()'s values; the clock restarts, counting on from the seconds used."""
        self.checks = [tuple(c) for c in doc["checks"]]
        self.best_step, self.best_score, self._bad = doc["best_step"], doc["best_score"], doc["bad"]
        self.reason, self.stopped_at, self.used_before = doc["reason"], doc["stopped_at"], doc["seconds_used"]
        self._best = dict(best) or None
        self.start()

    def summary(self) -> str:
        """One line: what was chosen and why."""
        return (
            f"stopped at step {self.stopped_at}: {self.reason}; kept the plug of step {self.best_step} "
            f"({self.metric_name} {self.best_score:.4f} on {self.validation or 'the held-out users'}; "
            f"checked every {self.every} steps, "
            f"caps {self.max_epochs:g} epochs / {self.max_seconds:.0f} s)"
        )
