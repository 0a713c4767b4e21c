"""Prediction: answers for LaMP questions from the frozen LLM, with or without the plug."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ..errors import InputError
from ..lamp.data import Example
from ..lamp.metrics import score
from ..lamp.tasks import TaskSpec
from ..model.encoder import HistoryEncoder
from ..model.injection import PPlugLM
from ..model.plug import PersonaPlug, soft_tokens
from .fast_step import FastFrozenLLM
from .methods import History

DECODINGS = ("generate", "rank")


# What a progress bar says the plug reads (HIDDEN is how the trained no-history control runs).
READS = {History.OWN: "own history", History.SWAPPED: "another user's history", History.HIDDEN: "no history"}


@dataclass
class Prediction:
    """Answers by id, with what the LLM saw and how long it took."""

    answers: dict[str, str]
    prompt_tokens_mean: float  # soft tokens + prompt tokens the LLM reads, per example
    seconds_per_example: float


def check_decoding(decoding: str, task: TaskSpec) -> None:
    """Refuse a decoding the task cannot use (ranking needs labels)."""
    if decoding not in DECODINGS:
        raise InputError(f"decoding must be one of {DECODINGS}, got '{decoding}'")
    if decoding == "rank" and task.kind == "generation":
        raise InputError(f"--decoding rank needs a task with labels; {task.name} is a generation task")


@contextlib.contextmanager
def answering_precision(bf16_llm: FastFrozenLLM | None) -> Iterator[None]:
    """The bf16 block weights under bf16 autocast for the duration (as the validation checks run), or fp32."""
    if bf16_llm is None:
        yield
        return
    with bf16_llm.engaged(step=False), torch.autocast("cpu", dtype=torch.bfloat16):
        yield


def encode_histories(plug: PersonaPlug, hist: HistoryEncoder, examples: list[Example], progress: bool) -> None:
    """Every history item once, before the batches, as training does: one cache write, not one per batch."""
    keep = getattr(plug, "module", plug).cfg.max_history  # plug may be wrapped for DDP
    items = [t for e in examples for t in (e.history[-keep:] if keep else e.history)]
    hist.encode(list(dict.fromkeys(items)), progress=progress)


@torch.no_grad()
def predict(
    examples: list[Example],
    task: TaskSpec,
    plm: PPlugLM,
    *,
    plug: PersonaPlug | None = None,
    hist: HistoryEncoder | None = None,
    history: History = History.OWN,
    decoding: str = "generate",
    batch_size: int = 16,
    num_beams: int = 1,
    max_new_tokens: int | None = None,
    progress: bool = True,
    bf16_llm: FastFrozenLLM | None = None,
) -> Prediction:
    """Answer every example: with soft tokens from the plug when one is given, else the frozen LLM alone.

    history: the plug reads the examples' histories (OWN; SWAPPED when the examples carry another user's),
    or every history hidden (HIDDEN). bf16_llm: answer on these bf16 block weights under bf16 autocast (a CPU
    with native bf16, report.answering_llm); None: in fp32, as loaded.
    """
    from tqdm.auto import tqdm

    check_decoding(decoding, task)
    history = History(history)  # a plain string value names the same mode
    if plug is not None and hist is None:
        raise ValueError("a plug needs a history encoder (hist=...)")
    if bf16_llm is not None and plm.device.type != "cpu":
        raise ValueError("bf16_llm is for a CPU (its autocast is the CPU's); answer on a GPU without it")
    if plug is not None and history is not History.HIDDEN:
        encode_histories(plug, hist, examples, progress)
    answers, n_tokens = {}, 0
    t0 = time.perf_counter()
    desc = f"predicting ({'frozen LLM alone' if plug is None else READS[history]})"
    hide = history is History.HIDDEN
    # Entered after encode_histories, which encodes every item the batches read: the history vectors (cached on
    # disk) stay fp32; the plug and its query encoder run under the autocast too, as in the validation checks.
    with answering_precision(bf16_llm):
        for i in tqdm(range(0, len(examples), batch_size), desc=desc, disable=not progress, leave=False):
            batch = examples[i : i + batch_size]
            texts = [e.input for e in batch]
            soft = None if plug is None else soft_tokens(plug, hist, batch, hide_history=hide)[0]  # (B, S, D)
            if decoding == "rank":
                out = plm.rank(texts, list(task.labels), soft)
            else:
                out = plm.generate(texts, soft, max_new_tokens or task.max_new_tokens, num_beams)
            answers.update({e.id: a for e, a in zip(batch, out)})
            n_tokens += sum(len(plm.prompt_ids(t)) for t in texts) + (0 if soft is None else soft.shape[1] * len(batch))
    seconds = time.perf_counter() - t0
    return Prediction(answers, n_tokens / len(examples), seconds / len(examples))


def evaluate(examples: list[Example], task: TaskSpec, prediction: Prediction) -> dict[str, float]:
    """Official metrics of a prediction against the examples' targets."""
    return score(task, prediction.answers, {e.id: e.target for e in examples})
