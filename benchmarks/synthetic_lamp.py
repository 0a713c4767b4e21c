"""LaMP-sized synthetic data: files in the LaMP format with the real benchmark's counts, for scale measurements.

The counts are those of the LaMP paper's dataset-statistics table for the user-based split (Salemi, Mysore,
Bendersky, Zamani, "LaMP: When Large Language Models Meet Personalization", arXiv:2304.11406, Table 1 "Data
statistics"): questions per split and the mean profile size per user. In the user-based split every question
comes from its own user, so #users = #questions. LaMP_7's 10437 train / 1500 dev questions are also the row
counts of the public LaMP-7 dataset card (huggingface.co/datasets/MemoryAsModality/LaMP-7); LaMP_2 (movie) is
LaMP's second version of task 2 ("LaMP-2M"). The texts are random words: only sizes are realistic.

    from synthetic_lamp import REAL, write_synthetic
    write_synthetic(folder, "LaMP_3", users=REAL["LaMP_3"].train_users, profile_mean=REAL["LaMP_3"].profile_mean)
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Size:
    train_users: int  # = train questions (user-based split)
    dev_users: int
    profile_mean: float  # mean profile items per user


# LaMP paper (arXiv:2304.11406), Table 1, user-based split: #Q train / dev, average profile size.
REAL: dict[str, Size] = {
    "LaMP_2": Size(3820, 696, 51.61),  # personalized movie tagging (LaMP-2M)
    "LaMP_3": Size(20000, 2500, 185.40),  # personalized product rating
    "LaMP_4": Size(12500, 1500, 287.16),  # personalized news headline generation
    "LaMP_7": Size(10437, 1500, 17.74),  # personalized tweet paraphrasing
}

# The bundled samples (data_samples/*/summary.json): 45 train users, 8 questions each, ~15.5 items per profile.
SAMPLE = {"users": 45, "questions_per_user": 8, "profile_mean": 15.5}

WORDS = (
    "space ship robot love war school wizard friend dog cat train rain sun road bridge city night story family "
    "music dream secret murder island money power king queen river forest ghost game team winter summer doctor"
).split()
TAGS = ("sci-fi", "comedy", "action", "fantasy", "romance", "classic", "dystopia", "violence")


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _item(task: str, rng: random.Random, uid: int, j: int) -> dict:
    base = {"id": f"{uid}-{j}", "date": f"20{10 + j % 10}-{1 + j % 12}-{1 + j % 28}"}
    if task == "LaMP_2":
        return {**base, "description": f"{uid}.{j} " + _text(rng, 25), "tag": rng.choice(TAGS)}
    if task == "LaMP_3":
        return {**base, "text": f"{uid}.{j} " + _text(rng, 40), "score": str(rng.randint(1, 5))}
    if task == "LaMP_4":
        return {**base, "title": f"{uid}.{j} " + _text(rng, 8), "text": _text(rng, 30)}
    return {**base, "text": f"{uid}.{j} " + _text(rng, 15)}  # LaMP_7


def _question(task: str, rng: random.Random) -> tuple[str, str]:
    body = _text(rng, 20)
    if task == "LaMP_2":
        return (
            f"Which tag does this movie relate to among the following tags? Just answer with the tag name "
            f"without further explanation. tags: [{', '.join(TAGS)}] description: {body}",
            rng.choice(TAGS),
        )
    if task == "LaMP_3":
        return (
            f"What is the score of the following review on a scale of 1 to 5? just answer with 1, 2, 3, 4, or "
            f"5 without further explanation. review: {body}",
            str(rng.randint(1, 5)),
        )
    if task == "LaMP_4":
        return f"Generate a headline for the following article: {body}", _text(rng, 8)
    return f"Paraphrase the following tweet without any explanation before or after it: {body}", _text(rng, 12)


def synthetic_records(task: str, users: int, profile_mean: float, questions_per_user: int = 1, seed: int = 0):
    """(questions, outputs) in the LaMP format: `users` users, profiles of 0.5x-1.5x profile_mean items."""
    rng = random.Random(seed)
    questions, golds = [], []
    for u in range(users):
        n = max(1, round(profile_mean * rng.uniform(0.5, 1.5)))
        profile = [_item(task, rng, u, j) for j in range(n)]
        for k in range(questions_per_user):
            text, gold = _question(task, rng)
            qid = f"{u}-{k}"
            # Each question of a user sees the profile (the samples give later questions a longer one; sizes match).
            questions.append({"id": qid, "user_id": str(u), "input": text, "profile": profile})
            golds.append({"id": qid, "output": gold})
    return questions, {"task": task, "golds": golds}


def write_synthetic(
    folder: str | Path, task: str, users: int, profile_mean: float, questions_per_user: int = 1, seed: int = 0
) -> tuple[Path, Path]:
    """Write dev-style `questions.json` and `outputs.json` under folder; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    q, o = synthetic_records(task, users, profile_mean, questions_per_user, seed)
    qp, op = folder / "questions.json", folder / "outputs.json"
    qp.write_text(json.dumps(q))
    op.write_text(json.dumps(o))
    return qp, op
