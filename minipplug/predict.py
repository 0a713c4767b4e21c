"""Prediction: answers for LaMP questions from the frozen LLM, with or without the plug."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from .data import Example
from .encoder import HistoryEncoder
from .injection import PPlugLM
from .metrics import score
from .plug import PersonaPlug
from .tasks import TaskSpec, get_task
from .train import soft_tokens

PPLUG_METHODS = ("pplug", "pplug-no-history")
DECODINGS = ("generate", "rank")


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
    method: str = "pplug",
    decoding: str = "generate",
    batch_size: int = 16,
    num_beams: int = 1,
    max_new_tokens: int | None = None,
    prompts: list[str] | None = None,
    progress: bool = True,
) -> Prediction:
    """Answer every example. method: pplug, pplug-no-history (plug, history hidden) or non-personalized (no soft token).

    prompts replaces each example's input text (the retrieval baselines put history items there).
    """
    from tqdm.auto import tqdm

    spec = get_task(task) if isinstance(task, str) else task
    if decoding not in DECODINGS:
        raise ValueError(f"decoding must be one of {DECODINGS}, got '{decoding}'")
    if decoding == "rank" and spec.kind == "generation":
        raise ValueError(f"--decoding rank needs a task with labels; {spec.name} is a generation task")
    use_plug = method in PPLUG_METHODS or method.startswith("pplug")
    if use_plug and (plug is None or hist is None):
        raise ValueError(f"method '{method}' needs a trained plug (--checkpoint)")
    texts = prompts if prompts is not None else [e.input for e in examples]
    answers, n_tokens = {}, 0
    t0 = time.perf_counter()
    for i in tqdm(range(0, len(examples), batch_size), desc=f"predicting ({method})", disable=not progress, leave=False):
        batch, batch_texts = examples[i : i + batch_size], texts[i : i + batch_size]
        soft = soft_tokens(plug, hist, batch, hide_history=(method == "pplug-no-history"))[0] if use_plug else None
        if decoding == "rank":
            out = plm.rank(batch_texts, list(spec.labels), soft)
        else:
            out = plm.generate(batch_texts, soft, max_new_tokens or spec.max_new_tokens, num_beams)
        answers.update({e.id: a for e, a in zip(batch, out)})
        n_tokens += sum(len(plm.prompt_ids(t)) for t in batch_texts) + (0 if soft is None else soft.shape[1] * len(batch))
    seconds = time.perf_counter() - t0
    return Prediction(answers, n_tokens / len(examples), seconds / len(examples))


def evaluate(examples: list[Example], task: str | TaskSpec, prediction: Prediction) -> dict[str, float]:
    """Official metrics of a prediction against the examples' targets."""
    return score(task, prediction.answers, {e.id: e.target for e in examples})
