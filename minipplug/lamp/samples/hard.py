"""``lamp2_hard`` (LaMP_2 format, not bundled): held-out data for benchmarks/sweep_recipe.py, which the CPU preset
was not tuned on. 2-3 favourite tags in priority order, 10% label noise, 20-40 profile items, ten frames."""

from __future__ import annotations

import random
from pathlib import Path

from ...atomic import atomic_write_text
from ..data import load_examples
from ..tasks import LAMP2_TAGS
from .common import SEED, _date, _dump, write_splits
from .tags import _FRAMES, LAMP2_INSTRUCTION, TAG_CUES, cued_tags

HARD_NOISE = 0.10
_HARD_FRAMES = _FRAMES + [
    "Expect {a}, and also {b}.",
    "Critics describe it as {a} meets {b}.",
    "Part of it is {a}; the rest is {b}.",
    "{A} - and, somewhere in between, {b}.",
    "Think {a}, then add {b}.",
    "An unusual blend: {a} alongside {b}.",
]


def _hard_favs(split: str, u: int, rng: random.Random) -> list[str]:
    """2-3 favourite tags in priority order; the first cycles over the tags so that every tag leads some user."""
    first = LAMP2_TAGS[(u + (7 if split == "dev" else 0)) % len(LAMP2_TAGS)]
    rest = rng.sample([t for t in LAMP2_TAGS if t != first], rng.choice([1, 2]))
    return [first, *rest]


def _best_ranked(cued: list[str], favs: list[str]) -> str:
    """The cued tag that ranks best in the user's favourites (a non-favourite ranks last)."""
    return min(cued, key=lambda t: favs.index(t) if t in favs else len(favs))


def _hard_record(rng: random.Random, favs: list[str]) -> tuple[str, str, list[str]]:
    """A description cueing two tags, at least one a favourite; the user tags it with the best-ranked favourite."""
    r = rng.random()
    others = [t for t in LAMP2_TAGS if t not in favs]
    if r < 0.45:
        cued = [favs[0], rng.choice(others)]
    elif r < 0.70:
        cued = [favs[1], rng.choice(others)]
    elif r < 0.85 and len(favs) > 2:
        cued = [favs[2], rng.choice(others)]
    else:
        cued = rng.sample(favs, 2)  # two favourites: the priority decides
    rng.shuffle(cued)
    a, b = (rng.choice(TAG_CUES[t]) for t in cued)
    desc = rng.choice(_HARD_FRAMES).format(a=a, b=b, A=a[0].upper() + a[1:])
    best = _best_ranked(cued, favs)
    tag = best if rng.random() >= HARD_NOISE else next(t for t in cued if t != best)
    return desc, tag, cued


def make_lamp2_hard(
    rng: random.Random, n_train_users: int = 45, n_dev_users: int = 30, queries: int = 8, dev_queries: int = 4
):
    """LaMP_2-style tagging, harder: 2-3 favourite tags in a priority order, 10% label noise, 20-40 profile items,
    ten description frames. The answer is the user's highest-ranked favourite among the two cued tags; a
    favourite of lower rank wins only when the better ones are not cued, so the history's label counts matter."""
    splits, personas = {}, {}
    for split, n_users, nq in [("train", n_train_users, queries), ("dev", n_dev_users, dev_queries)]:
        questions, golds = [], []
        for u in range(n_users):
            uid = f"{split}-u{u:03d}"
            favs = _hard_favs(split, u, rng)
            personas[uid] = favs
            profile = []
            for j in range(rng.randint(20, 40)):
                desc, tag, _ = _hard_record(rng, favs)
                profile.append({"id": f"{uid}-p{j:02d}", "description": desc, "tag": tag, "date": _date(rng, j)})
            for q in range(nq):
                desc, tag, _ = _hard_record(rng, favs)
                qid = f"2{split[0]}{u:03d}{q:02d}"
                questions.append({"id": qid, "user_id": uid, "input": LAMP2_INSTRUCTION + desc, "profile": profile})
                golds.append({"id": qid, "output": tag})
        splits[split] = (questions, golds)
    return "LaMP_2", splits, personas


def hard_oracle(questions: list[dict], personas: dict) -> dict[str, str]:
    """Best possible answers knowing each user's priority list: the best-ranked favourite among the cued tags."""
    return {q["id"]: _best_ranked(cued_tags(q["input"]), personas[q["user_id"]]) for q in questions}


def make_hard_samples(out: str | Path, seed: int = SEED, name: str = "lamp2_hard") -> dict:
    """Write the hard variant under out/name (seeded, byte-identical on re-runs); returns its summary."""
    rng = random.Random(f"{seed}-{name}")
    task, splits, personas = make_lamp2_hard(rng)
    folder = Path(out) / name
    write_splits(folder, task, splits)
    load_examples(task, folder / "dev_questions.json", folder / "dev_outputs.json")  # the package's validation
    summary = {"name": name, "task": task, "seed": seed}
    for split, (questions, golds) in splits.items():
        gold = {g["id"]: g["output"] for g in golds}
        summary[f"{split}_examples"] = len(questions)
        summary[f"{split}_profile_items_mean"] = round(sum(len(q["profile"]) for q in questions) / len(questions), 1)
        oracle = hard_oracle(questions, personas)
        summary[f"{split}_oracle_accuracy"] = round(sum(oracle[k] == gold[k] for k in gold) / len(gold), 4)
        fav1 = {q["id"]: personas[q["user_id"]][0] for q in questions}
        summary[f"{split}_first_favourite_accuracy"] = round(sum(fav1[k] == gold[k] for k in gold) / len(gold), 4)
        summary[f"{split}_input_only_best"] = 0.5
    atomic_write_text(folder / "summary.json", _dump(summary))
    return summary
