"""Prediction: answers for LaMP questions from the frozen LLM, with or without the plug."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from ..errors import InputError
from ..lamp.data import Example
from ..lamp.metrics import score
from ..lamp.tasks import TaskSpec, get_task
from ..model.encoder import HistoryEncoder
from ..model.injection import PPlugLM
from ..model.plug import PersonaPlug, soft_tokens

DECODINGS = ("generate", "rank")
SOFT_MODES = ("own", "hidden", "none")


@dataclass
class Prediction:
    """Answers by id, with what the LLM saw and how long it took."""

    answers: dict[str, str]
    prompt_tokens_mean: float  # soft tokens + prompt tokens the LLM reads, per example
    seconds_per_example: float


@torch.no_grad()
def predict(
    examples: list[Example],
    task: str | TaskSpec,
    plm: PPlugLM,
    plug: PersonaPlug | None = None,
    hist: HistoryEncoder | None = None,
    soft: str = "own",
    decoding: str = "generate",
    batch_size: int = 16,
    num_beams: int = 1,
    max_new_tokens: int | None = None,
    prompts: list[str] | None = None,
    progress: bool = True,
) -> Prediction:
    """Answer every example. soft: "own" (the plug reads each user's history), "hidden" (every history empty)
    or "none" (no soft tokens: the frozen LLM alone).

    prompts replaces each example's input text (the retrieval baselines put history items there).
    """
    from tqdm.auto import tqdm

    spec = get_task(task)
    if decoding not in DECODINGS:
        raise InputError(f"decoding must be one of {DECODINGS}, got '{decoding}'")
    if decoding == "rank" and spec.kind == "generation":
        raise InputError(f"--decoding rank needs a task with labels; {spec.name} is a generation task")
    if soft not in SOFT_MODES:
        raise ValueError(f"soft must be one of {SOFT_MODES}, got '{soft}'")
    use_plug = soft != "none"
    if use_plug and (plug is None or hist is None):
        raise ValueError(f"soft='{soft}' needs a trained plug and a history encoder")
    texts = prompts if prompts is not None else [e.input for e in examples]
    if use_plug and soft == "own":
        # Every history item once, before the loop, as training does: one cache write, not one per batch.
        keep = getattr(plug, "module", plug).cfg.max_history
        items = [t for e in examples for t in (e.history[-keep:] if keep else e.history)]
        hist.encode(list(dict.fromkeys(items)), progress=progress)
    answers, n_tokens = {}, 0
    t0 = time.perf_counter()
    for i in tqdm(
        range(0, len(examples), batch_size), desc=f"predicting (soft tokens: {soft})", disable=not progress, leave=False
    ):
        batch, batch_texts = examples[i : i + batch_size], texts[i : i + batch_size]
        tokens = soft_tokens(plug, hist, batch, hide_history=(soft == "hidden"))[0] if use_plug else None  # (B, S, D)
        if decoding == "rank":
            out = plm.rank(batch_texts, list(spec.labels), tokens)
        else:
            out = plm.generate(batch_texts, tokens, max_new_tokens or spec.max_new_tokens, num_beams)
        answers.update({e.id: a for e, a in zip(batch, out)})
        n_tokens += sum(len(plm.prompt_ids(t)) for t in batch_texts) + (
            0 if tokens is None else tokens.shape[1] * len(batch)
        )
    seconds = time.perf_counter() - t0
    return Prediction(answers, n_tokens / len(examples), seconds / len(examples))


def evaluate(examples: list[Example], task: str | TaskSpec, prediction: Prediction) -> dict[str, float]:
    """Official metrics of a prediction against the examples' targets."""
    return score(task, prediction.answers, {e.id: e.target for e in examples})
