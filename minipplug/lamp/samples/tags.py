"""``lamp2_tags`` (LaMP_2 format): every movie description mentions cues of two tags; each user is a fan of one
tag and tags a movie with it whenever it applies (3% label noise). Without the history the two cued tags are
indistinguishable (at best 50%); with it the answer is the user's favourite."""

from __future__ import annotations

import random

from ..metrics import score
from ..tasks import LAMP2_TAGS
from .common import NOISE, Sample, Splits, _date, _unseen, rounded

LAMP2_INSTRUCTION = (
    "Which tag does this movie relate to among the following tags? Just answer with the tag name without "
    "further explanation. tags: [" + ", ".join(LAMP2_TAGS) + "] description: "
)

# Two-to-four cue phrases per tag; a description names cues of two different tags.
TAG_CUES = {
    "sci-fi": [
        "a starship crew lost beyond the galaxy",
        "an android who learns to dream",
        "a colony on a distant planet",
        "a time machine built in a garage",
    ],
    "based on a book": [
        "the faithful adaptation of a beloved novel",
        "a story taken page by page from a bestselling book",
        "the screen version of a classic children's book",
    ],
    "comedy": [
        "a clumsy wedding planner and endless jokes",
        "two bickering roommates in a hilarious mix-up",
        "a talking parrot that ruins a dinner party",
    ],
    "action": [
        "a high-speed car chase through the city",
        "a daring heist on a speeding train",
        "a bodyguard fighting off a squad of mercenaries",
    ],
    "twist ending": [
        "a final reveal that turns everything upside down",
        "a narrator who is not what he seems until the last scene",
        "a shocking surprise in the closing minutes",
    ],
    "dystopia": [
        "a surveillance state that controls every thought",
        "a ruined future where books are banned",
        "a totalitarian regime ruling the last city on earth",
    ],
    "dark comedy": [
        "a funeral that turns into a grim farce",
        "a cheerful hitman who hates his job",
        "a family that laughs while hiding a body",
    ],
    "classic": [
        "a black-and-white studio picture from the 1940s",
        "a timeless tale from Hollywood's golden age",
        "a legendary film that generations have loved",
    ],
    "psychology": [
        "a therapist drawn into a patient's obsession",
        "a man haunted by memories he cannot trust",
        "a slow study of a troubled mind",
    ],
    "fantasy": [
        "a young wizard at a school of magic",
        "a dragon guarding an enchanted kingdom",
        "elves and dwarves on a quest for a magic ring",
    ],
    "romance": [
        "two strangers falling in love in Paris",
        "a love letter delivered twenty years too late",
        "a shy baker who finds her soulmate",
    ],
    "thought-provoking": [
        "deep questions about free will and identity",
        "a quiet meditation on what makes us human",
        "an ending that leaves you thinking for days",
    ],
    "social commentary": [
        "a sharp look at class and inequality",
        "workers standing up to a greedy corporation",
        "a satire of media and politics",
    ],
    "violence": [
        "a brutal gang war in the streets",
        "a bloody revenge in a small town",
        "graphic fights and merciless killers",
    ],
    "true story": [
        "the real events of a daring 1970s rescue",
        "the life of a famous athlete told as it happened",
        "a true account of a wartime escape",
    ],
}
_FRAMES = [
    "A movie about {a}, with {b}.",
    "The film follows {a} and {b}.",
    "A story of {a}, featuring {b}.",
    "This picture mixes {a} with {b}.",
]


def cued_tags(text: str) -> list[str]:
    """The tags whose cue phrases a LaMP_2-style sample description mentions (in any case: the hard variant
    capitalises a cue that opens a sentence)."""
    low = text.lower()
    return [tag for tag, cues in TAG_CUES.items() if any(c.lower() in low for c in cues)]


def _lamp2_record(rng: random.Random, fav: str, uid: str, idx: int, noise: float = NOISE) -> tuple[str, str]:
    other = rng.choice([t for t in LAMP2_TAGS if t != fav])
    a, b = (fav, other) if rng.random() < 0.5 else (other, fav)
    desc = rng.choice(_FRAMES).format(a=rng.choice(TAG_CUES[a]), b=rng.choice(TAG_CUES[b]))
    tag = fav if rng.random() >= noise else other
    return desc, tag


def make_lamp2(
    rng: random.Random, n_train_users: int = 45, n_dev_users: int = 30, queries: int = 8, dev_queries: int = 4
):
    """LaMP_2-style tagging: each user's favourite tag decides between the two tags a movie cues."""
    splits, personas = {}, {}
    for split, n_users, nq in [("train", n_train_users, queries), ("dev", n_dev_users, dev_queries)]:
        questions, golds = [], []
        for u in range(n_users):
            uid = f"{split}-u{u:03d}"
            fav = LAMP2_TAGS[(u + (7 if split == "dev" else 0)) % len(LAMP2_TAGS)]
            personas[uid] = fav
            profile = []
            for j in range(rng.randint(8, 24)):
                desc, tag = _lamp2_record(rng, fav, uid, j)
                profile.append({"id": f"{uid}-p{j:02d}", "description": desc, "tag": tag, "date": _date(rng, j)})
            for q in range(nq):
                qid = f"2{split[0]}{u:03d}{q:02d}"
                seen = {item["description"] for item in profile}
                desc, tag = _unseen(lambda r: _lamp2_record(r, fav, uid, q), rng, seen, qid)
                questions.append({"id": qid, "user_id": uid, "input": LAMP2_INSTRUCTION + desc, "profile": profile})
                golds.append({"id": qid, "output": tag})
        splits[split] = (questions, golds)
    return "LaMP_2", splits, personas


def dev_scores(task: str, splits: Splits, personas: dict, gold: dict[str, str]) -> dict:
    """The oracle (each user's favourite tag) and the best guess from the input alone (between the cued tags)."""
    questions = splits["dev"][0]
    oracle = {q["id"]: personas[q["user_id"]] for q in questions}
    # Without history the two cued tags are indistinguishable: a guess between them is right half the time.
    hits = [0.5 * (gold[q["id"]] in cued_tags(q["input"])) for q in questions]
    return {
        "dev_oracle": rounded(score(task, oracle, gold)),
        "dev_input_only_best": {
            "accuracy": round(sum(hits) / len(hits), 4),
            "note": "expected accuracy of a guess between the two cued tags",
        },
    }


SAMPLE = Sample(make_lamp2, dev_scores)
