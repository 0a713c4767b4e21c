"""``lamp3_ratings`` (LaMP_3 format): a review's wording gives a base sentiment of 2, 3 or 4; each user is harsh
(-1), fair (0) or generous (+1) and rates base + offset (3% noise of one star)."""

from __future__ import annotations

import random

from ..metrics import score
from .common import NOISE, Sample, Splits, _date, _unseen, rounded

LAMP3_INSTRUCTION = (
    "What is the score of the following review on a scale of 1 to 5? just answer with 1, 2, 3, 4, or 5 "
    "without further explanation. review: "
)

PRODUCTS = [
    "blender",
    "pair of headphones",
    "backpack",
    "coffee maker",
    "desk lamp",
    "phone case",
    "water bottle",
    "keyboard",
    "novel",
    "board game",
    "toaster",
    "yoga mat",
]
SENTIMENT = {
    2: [
        "The {p} disappointed me in several ways.",
        "The {p} broke sooner than I hoped.",
        "The {p} is below what I expected.",
    ],
    3: [
        "The {p} is okay, nothing special.",
        "The {p} does the job but has flaws.",
        "The {p} is average for the price.",
    ],
    4: [
        "The {p} works well and I like it.",
        "The {p} is solid with only small issues.",
        "The {p} is good value overall.",
    ],
}


def make_lamp3(
    rng: random.Random, n_train_users: int = 45, n_dev_users: int = 30, queries: int = 8, dev_queries: int = 4
):
    """LaMP_3-style rating: base sentiment from the wording, plus the user's strictness offset."""

    def review(offset: int, r: random.Random = rng) -> tuple[str, str]:
        base = r.choice([2, 3, 4])
        text = r.choice(SENTIMENT[base]).format(p=r.choice(PRODUCTS))
        stars = min(5, max(1, base + offset))
        if r.random() < NOISE:
            stars = min(5, max(1, stars + r.choice([-1, 1])))
        return text, str(stars)

    splits, personas = {}, {}
    for split, n_users, nq in [("train", n_train_users, queries), ("dev", n_dev_users, dev_queries)]:
        questions, golds = [], []
        for u in range(n_users):
            uid = f"{split}-u{u:03d}"
            offset = [-1, 0, 1][u % 3]
            personas[uid] = offset
            profile = []
            for j in range(rng.randint(8, 24)):
                text, stars = review(offset)
                # Scores appear as strings or numbers in real LaMP; keep both forms here too.
                profile.append(
                    {
                        "id": f"{uid}-p{j:02d}",
                        "text": text,
                        "score": stars if j % 2 else int(stars),
                        "date": _date(rng, j),
                    }
                )
            for q in range(nq):
                qid = f"3{split[0]}{u:03d}{q:02d}"
                seen = {item["text"] for item in profile}
                text, stars = _unseen(lambda r: review(offset, r), rng, seen, qid)
                questions.append({"id": qid, "user_id": uid, "input": LAMP3_INSTRUCTION + text, "profile": profile})
                golds.append({"id": qid, "output": stars})
        splits[split] = (questions, golds)
    return "LaMP_3", splits, personas


def base_rating(text: str) -> int:
    """The sentiment a review's wording gives (2, 3 or 4): the template its text ends with."""
    return next(b for b, frames in SENTIMENT.items() for f in frames if f.split("{p}")[1] in text)


def dev_scores(task: str, splits: Splits, personas: dict, gold: dict[str, str]) -> dict:
    """The oracle (wording's base + the user's offset) and the best guess from the input alone (the base)."""
    questions = splits["dev"][0]
    oracle = {q["id"]: str(min(5, max(1, base_rating(q["input"]) + personas[q["user_id"]]))) for q in questions}
    only = {q["id"]: str(base_rating(q["input"])) for q in questions}
    return {"dev_oracle": rounded(score(task, oracle, gold)), "dev_input_only_best": rounded(score(task, only, gold))}


SAMPLE = Sample(make_lamp3, dev_scores)
