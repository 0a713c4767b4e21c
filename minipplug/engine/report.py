"""Results rows and tables: a method's predictions scored, with prompt length, speed, memory and collapse."""

from __future__ import annotations

import resource
import sys
import time

import torch

from ..lamp.data import Example
from ..lamp.metrics import metric_keys, score, top_share
from ..lamp.tasks import TaskSpec
from ..model.plug import PersonaPlug
from .fast_step import FastFrozenLLM
from .methods import Method, rule_answerer
from .predict import evaluate, predict
from .stack import Stack
from .train import pick_precision


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (MB), or peak CUDA memory on a GPU."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (2**20 if sys.platform == "darwin" else 2**10)


class PeakMemory:
    """Peak memory (MB) inside a `with` block: CUDA's counter on a GPU, sampled process RSS on a CPU."""

    def __enter__(self) -> "PeakMemory":
        self.mb = 0.0
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
            return self
        import threading

        import psutil

        proc, self._stop = psutil.Process(), threading.Event()

        def sample():
            while True:
                self.mb = max(self.mb, proc.memory_info().rss / 2**20)
                if self._stop.wait(0.02):
                    break

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if torch.cuda.is_available():
            self.mb = torch.cuda.max_memory_allocated() / 2**20
        else:
            self._stop.set()
            self._thread.join()


def answering_llm(stack: Stack) -> FastFrozenLLM | None:
    """The bf16 block weights to answer with where the run computes in bf16 on a CPU (precision auto on a CPU with
    native bf16, or bf16), made once per stack; None where answers are computed in fp32, as loaded.

    Answers then run as training's validation checks do: 1.9-2.9x faster on such a CPU; on the bundled sample the
    trained plug's answers were the same for 119-120 of 120 questions, its control's for 111-114 (near-ties), the
    zero-shot LLM's free-text sentences for 97-98 (docs/performance.md).
    """
    if pick_precision(stack.cfg) != "bf16" or stack.plm.device.type != "cpu":
        return None
    if stack.bf16_llm is None:
        stack.bf16_llm = FastFrozenLLM(stack.plm.model, bf16=True, compile=False)
    return stack.bf16_llm


def result_row(
    stack: Stack,
    examples: list[Example],
    method: Method,
    *,
    plug: PersonaPlug | None = None,
    decoding: str = "generate",
    split: str = "dev",
    label: str | None = None,
    progress: bool = True,
    train_seconds: float | None = None,
) -> dict:
    """Predict with a method (its examples already as method_examples gives them) on the stack's task and return
    its results row: official metrics, prompt tokens, seconds per example, and how concentrated the answers are."""
    task, cfg = stack.task, stack.cfg
    with PeakMemory() as mem:
        pred = predict(
            examples,
            task,
            stack.plm,
            plug=plug,
            hist=stack.hist,
            history=method.history,
            decoding=decoding,
            batch_size=cfg.eval_batch_size,
            num_beams=cfg.num_beams,
            progress=progress,
            bf16_llm=answering_llm(stack),
        )
    metrics = evaluate(examples, task, pred)
    row = {"method": label or method.name, "task": task.name, "split": split, "decoding": decoding}
    row.update({k: round(metrics[k], 4) for k in metric_keys(task)})
    row.update(
        {
            "prompt_tokens_mean": round(pred.prompt_tokens_mean, 1),
            "seconds_per_example": round(pred.seconds_per_example, 4),
            "examples": len(examples),
            "peak_memory_mb": round(mem.mb, 1),
        }
    )
    if task.labels:
        row.update(answer_concentration(list(pred.answers.values()), [e.target for e in examples]))
    if train_seconds is not None:
        row["train_seconds"] = round(train_seconds, 1)
    row["_answers"] = pred.answers
    return row


def rule_row(
    task: TaskSpec, method: Method, train_ex: list[Example], examples: list[Example], split: str = "dev"
) -> dict:
    """A rule's results row, with the same metric keys as an LLM row: the LLM reads nothing (0 prompt tokens),
    seconds per example are the rule's own (input-only: its fit on train_ex included), no decoding."""
    t0 = time.perf_counter()
    answer = rule_answerer(method, task, train_ex)
    answers = {e.id: answer(e) for e in examples}
    seconds = time.perf_counter() - t0
    metrics = score(task, answers, {e.id: e.target for e in examples})
    row = {"method": method.name, "task": task.name, "split": split, "decoding": "none"}
    row.update({k: round(metrics[k], 4) for k in metric_keys(task)})
    row.update({"prompt_tokens_mean": 0.0, "seconds_per_example": round(seconds / len(examples), 6)})
    row["examples"] = len(examples)
    row.update(answer_concentration(list(answers.values()), [e.target for e in examples]))
    row["_answers"] = answers
    return row


def answer_concentration(answers: list[str], golds: list[str]) -> dict:
    """The most frequent answer and its share, beside the most frequent gold's share."""
    # Collapse shows here: a plug that answers one label everywhere has a top share far above the gold's.
    top, share = top_share(answers)
    return {"top_answer": top, "top_answer_share": round(share, 3), "top_gold_share": round(top_share(golds)[1], 3)}


def public(row: dict) -> dict:
    """A row without the private answers."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


def markdown_table(rows: list[dict]) -> str:
    """Rows as a markdown table (metrics rounded to 3 decimals)."""
    rows = [public(r) for r in rows]
    keys = [k for k in rows[0] if k not in {"task", "split", "examples"}]
    for r in rows[1:]:
        keys += [k for k in r if k not in keys and k not in {"task", "split", "examples"}]
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) and abs(v) < 10 else ("" if v is None else str(v))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines)
