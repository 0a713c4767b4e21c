"""Held-out LaMP_2 designs (not bundled) for benchmarks/sweep_recipe.py: data of kinds the CPU preset was not tuned
on, each differing from ``lamp2_tags`` in one way a real user base can.

- ``lamp2_ranked3_time``: every movie cues three tags; each user ranks all tags in a private order and tags a
  movie with its best-ranked cued tag (5% noise). Time-based split: dev questions are later questions of the
  training users, whose dev profile also holds their training questions.
- ``lamp2_long``: ``lamp2_hard``'s users (2-3 favourites in priority order, 10% noise) with 80-150 profile items.
- ``lamp2_noisy``: ``lamp2_tags``' users (one favourite decides between two cued tags) with 25% label noise.

Each summary.json records the oracle (knowing the user's rule) and the one-line rules' dev accuracy: the input
alone (0.5 or 1/3: cued tags are exchangeable), a vote over the whole history, and ``cued_vote`` (the cued tag the
history uses most): what the history's label counts give without any learning.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator

from ...atomic import atomic_write_text
from ..data import load_examples
from ..rules import majority_label
from ..tasks import LAMP2_TAGS
from .common import Splits, _date, _dump, _unseen, size_fields, write_splits
from .hard import _best_ranked, _hard_favs, _hard_record, make_lamp2_hard
from .tags import LAMP2_INSTRUCTION, TAG_CUES, _lamp2_record, cued_tags

RANKED_NOISE = 0.05
NOISY_NOISE = 0.25
_FRAMES3 = [
    "A movie about {a}, with {b} and {c}.",
    "The film follows {a}, {b} and {c}.",
    "Three threads: {a}; {b}; {c}.",
    "It mixes {a} with {b}, and ends on {c}.",
]


def _ranked3_record(rng: random.Random, order: list[str]) -> tuple[str, str]:
    """Three cued tags; the user's best-ranked one is the tag (RANKED_NOISE: another cued tag)."""
    cued = rng.sample(LAMP2_TAGS, 3)
    a, b, c = (rng.choice(TAG_CUES[t]) for t in cued)
    best = min(cued, key=order.index)
    tag = best if rng.random() >= RANKED_NOISE else rng.choice([t for t in cued if t != best])
    return rng.choice(_FRAMES3).format(a=a, b=b, c=c), tag


def _item(uid: str, j: int, desc: str, tag: str, rng: random.Random) -> dict:
    return {"id": f"{uid}-p{j:03d}", "description": desc, "tag": tag, "date": _date(rng, j)}


def _questions(
    rng: random.Random, split: str, u: int, uid: str, n: int, profile: list[dict], draw: Callable
) -> Iterator[tuple[dict, dict]]:
    """A user's n (question, gold) records, none a description already in the profile. Lazy: the caller may draw
    from rng between two questions (the time split adds each training question to the later profile)."""
    seen = {item["description"] for item in profile}
    for q in range(n):
        qid = f"2{split[0]}{u:03d}{q:02d}"
        desc, tag = _unseen(draw, rng, seen, qid)
        yield (
            {"id": qid, "user_id": uid, "input": LAMP2_INSTRUCTION + desc, "profile": profile},
            {"id": qid, "output": tag},
        )


def make_lamp2_ranked3_time(rng: random.Random, n_users: int = 45, queries: int = 8, dev_queries: int = 3):
    """Full private rankings, three cued tags, the same users in train and dev (dev = their later questions)."""
    train_q, train_g, dev_q, dev_g, personas = [], [], [], [], {}
    for u in range(n_users):
        uid = f"user-{u:03d}"
        order = rng.sample(LAMP2_TAGS, len(LAMP2_TAGS))
        personas[uid] = order
        history = [_item(uid, j, *_ranked3_record(rng, order), rng) for j in range(rng.randint(20, 40))]
        later = list(history)  # the dev profile: the history, then the training questions as tagged items
        draw = lambda r: _ranked3_record(r, order)  # noqa: E731
        for question, gold in _questions(rng, "train", u, uid, queries, history, draw):
            train_q.append(question)
            train_g.append(gold)
            desc = question["input"].removeprefix(LAMP2_INSTRUCTION)
            later.append(_item(uid, len(later), desc, gold["output"], rng))
        for question, gold in _questions(rng, "dev", u, uid, dev_queries, later, draw):
            dev_q.append(question)
            dev_g.append(gold)
    return "LaMP_2", {"train": (train_q, train_g), "dev": (dev_q, dev_g)}, personas


def _user_split(
    rng: random.Random,
    persona_of: Callable[[str, int, random.Random], object],
    draw: Callable[[random.Random, object], tuple[str, str]],
    items: tuple[int, int],
    n_train_users: int = 45,
    n_dev_users: int = 30,
) -> tuple[str, Splits, dict]:
    """LaMP's user-based split (dev users unseen): 8 questions per train user, 4 per dev user, each user a
    persona and a profile of `items` (min, max) records drawn by draw(rng, persona) -> (description, tag)."""
    splits, personas = {}, {}
    for split, n_users, nq in [("train", n_train_users, 8), ("dev", n_dev_users, 4)]:
        questions, golds = [], []
        for u in range(n_users):
            uid = f"{split}-u{u:03d}"
            persona = personas[uid] = persona_of(split, u, rng)
            profile = [_item(uid, j, *draw(rng, persona), rng) for j in range(rng.randint(*items))]
            for question, gold in _questions(rng, split, u, uid, nq, profile, lambda r: draw(r, persona)):
                questions.append(question)
                golds.append(gold)
        splits[split] = (questions, golds)
    return "LaMP_2", splits, personas


def make_lamp2_long(rng: random.Random) -> tuple[str, Splits, dict]:
    """lamp2_hard's users (2-3 favourites in priority order, 10% noise) with 80-150 profile items each."""
    return _user_split(rng, _hard_favs, lambda r, favs: _hard_record(r, favs)[:2], (80, 150))


def _favourite(split: str, u: int, rng: random.Random) -> str:
    """lamp2_tags' favourite: cycles over the tags, dev users shifted by 7."""
    return LAMP2_TAGS[(u + (7 if split == "dev" else 0)) % len(LAMP2_TAGS)]


def make_lamp2_noisy(rng: random.Random) -> tuple[str, Splits, dict]:
    """lamp2_tags' users (one favourite tag each) with 25% of the labels, history and gold, the other cued tag."""
    return _user_split(rng, _favourite, lambda r, fav: _lamp2_record(r, fav, "", 0, NOISY_NOISE), (8, 24))


def _oracle_answer(cued: list[str], persona) -> str:
    """The user's own rule: a favourite (str) among the cued tags, or the best-ranked cued tag (a priority list)."""
    if isinstance(persona, str):
        return persona if persona in cued else cued[0]
    return _best_ranked(cued, persona)


def _cued_vote(cued: list[str], profile: list[dict]) -> str:
    """The cued tag the user's history uses most (ties: cue order): label counts, no learning."""
    counts = Counter(item["tag"] for item in profile)
    return max(cued, key=lambda t: counts[t])


HELDOUT: dict[str, Callable[[random.Random], tuple[str, Splits, dict]]] = {
    "lamp2_hard": make_lamp2_hard,
    "lamp2_ranked3_time": make_lamp2_ranked3_time,
    "lamp2_long": make_lamp2_long,
    "lamp2_noisy": make_lamp2_noisy,
}


def make_heldout_sample(out: str | Path, name: str, seed: int = 0) -> dict:
    """Write a held-out design under out/name (seeded, byte-identical on re-runs); returns its summary."""
    rng = random.Random(f"{seed}-{name}")
    task, splits, personas = HELDOUT[name](rng)
    folder = Path(out) / name
    write_splits(folder, task, splits)
    dev = load_examples(task, folder / "dev_questions.json", folder / "dev_outputs.json")  # the package's checks
    questions, golds = splits["dev"]
    gold = {g["id"]: g["output"] for g in golds}
    answers = {"oracle": {}, "cued_vote": {}, "majority_vote": {e.id: majority_label(e, task) for e in dev}}
    for q in questions:
        cued = cued_tags(q["input"].removeprefix(LAMP2_INSTRUCTION))
        answers["oracle"][q["id"]] = _oracle_answer(cued, personas[q["user_id"]])
        answers["cued_vote"][q["id"]] = _cued_vote(cued, q["profile"])
    n_cued = len(cued_tags(questions[0]["input"].removeprefix(LAMP2_INSTRUCTION)))
    summary = {"name": name, "task": task, "seed": seed, **size_fields(splits)}
    for rule, by_id in answers.items():
        summary[f"dev_{rule}_accuracy"] = round(sum(by_id[k] == gold[k] for k in gold) / len(gold), 4)
    summary["dev_input_only_best"] = round(1 / n_cued, 4)
    summary["dev_top_gold_share"] = round(Counter(gold.values()).most_common(1)[0][1] / len(gold), 4)
    atomic_write_text(folder / "summary.json", _dump(summary))
    return summary
