"""What every sample generator shares: the seed, dates, the split/user loop, redraws, and the files' format."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ...atomic import atomic_write_text

SEED = 0
NOISE = 0.03

Splits = dict[str, tuple[list[dict], list[dict]]]  # split -> (question records, gold records)


@dataclass(frozen=True)
class Sample:
    """A bundled sample: its generator (rng -> task, splits, personas) and the dev scores its summary records."""

    generate: Callable[[random.Random], tuple[str, Splits, dict]]
    dev_scores: Callable[[str, Splits, dict, dict[str, str]], dict]  # (task, splits, personas, dev golds)


def _date(rng: random.Random, index: int) -> str:
    return f"{2010 + index // 12:04d}-{index % 12 + 1:02d}-{rng.randint(1, 28):02d}"


def _unseen(draw, rng: random.Random, seen: set[str], qid: str) -> tuple[str, str]:
    """A question (text, gold) whose text is not in the user's profile: a real user is not asked about an item they
    already rated or tagged. A clash is redrawn from a generator seeded by the question id, so the main stream, and
    with it every other question, stays as it was."""
    text, gold = draw(rng)
    redraw = random.Random(f"redraw-{qid}")
    while text in seen:
        text, gold = draw(redraw)
    return text, gold


def _dump(obj) -> str:
    return json.dumps(obj, indent=1, ensure_ascii=False) + "\n"


def write_splits(folder: Path, task: str, splits: Splits) -> None:
    """Each split's questions and outputs files, in LaMP's format (atomic writes)."""
    for split, (questions, golds) in splits.items():
        atomic_write_text(folder / f"{split}_questions.json", _dump(questions))
        atomic_write_text(folder / f"{split}_outputs.json", _dump({"task": task, "golds": golds}))


def size_fields(splits: Splits) -> dict:
    """Questions, users and mean profile length per split, as summary.json records them."""
    out = {}
    for split, (questions, _) in splits.items():
        out[f"{split}_examples"] = len(questions)
        out[f"{split}_users"] = len({q["user_id"] for q in questions})
        out[f"{split}_profile_items_mean"] = round(sum(len(q["profile"]) for q in questions) / len(questions), 1)
    return out


def rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in metrics.items()}
