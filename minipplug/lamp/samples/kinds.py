"""``lamp2_kinds`` (LaMP_2 format): the answer depends on the question and the history together.

Movies come in four kinds (space, crime, family, history), each described with its own words. Each kind has
three tags that fit it, and every user has a private map kind -> one of those tags (users differ; 5% label
noise). So:

- the input alone tells the kind, not the user's tag for it: at chance among the kind's three tags;
- the history as a whole does not tell it either: it holds every kind about equally, so its most frequent tag
  is the answer only for questions of one kind (about a quarter);
- the history items of the question's kind do: they carry the user's tag for it (the oracle).

A model must look at the history items that resemble the question, which is what PPlug's input-aware attention
(eq. 3) is for; mean pooling over the history sees only the blend.
"""

from __future__ import annotations

import random

from ..data import Example
from ..metrics import score
from ..rules import InputOnly, majority_label, retrieved_label
from ..tasks import get_task
from .common import Sample, Splits, _date, _unseen, rounded
from .tags import LAMP2_INSTRUCTION

KIND_TAGS = {  # three tags that fit each kind; the four sets are disjoint
    "space": ["sci-fi", "dystopia", "thought-provoking"],
    "crime": ["action", "violence", "twist ending"],
    "family": ["comedy", "fantasy", "based on a book"],
    "history": ["classic", "true story", "social commentary"],
}
KIND_CUES = {  # the words that say which kind a movie is; no cue shares a content word with another kind's
    "space": [
        "a starship crew",
        "an astronaut stranded in orbit",
        "a colony on a frozen moon",
        "an alien signal from a distant galaxy",
        "a mining station on an asteroid",
        "a robot pilot",
        "a comet heading for earth",
        "a wormhole near saturn",
    ],
    "crime": [
        "a detective chasing a serial killer",
        "a bank heist gone wrong",
        "a gangster's last job",
        "a corrupt police captain",
        "a smuggler on the docks",
        "a murder trial",
        "a getaway driver",
        "a mob boss and his rival",
    ],
    "family": [
        "two kids at summer camp",
        "a grandmother who bakes pies",
        "a lost puppy",
        "a school talent show",
        "a birthday party in the backyard",
        "siblings on a road trip",
        "a treehouse club",
        "a magic toy shop",
    ],
    "history": [
        "a medieval king",
        "soldiers in the trenches of 1916",
        "a queen of ancient egypt",
        "the court of a roman emperor",
        "a revolution in eighteenth-century paris",
        "pioneers crossing the prairie",
        "a samurai in feudal japan",
        "a viking raid",
    ],
}
FRAMES = [
    "A movie about {a}, and {b}.",
    "The film follows {a} and {b}.",
    "A story of {a}, with {b}.",
    "This picture brings together {a} and {b}.",
]
KINDS = list(KIND_TAGS)
LABEL_NOISE = 0.05  # a question or past movie tagged with another of its kind's tags


def kind_of(text: str) -> str:
    """The kind whose cue phrases a description mentions (each description names two cues of one kind)."""
    (kind,) = {k for k, cues in KIND_CUES.items() if any(c in text.lower() for c in cues)}
    return kind


def _record(rng: random.Random, kind: str, tag: str) -> tuple[str, str]:
    """A description of the kind (two of its cues in a frame) and the user's tag for it (5% another of the kind's)."""
    a, b = rng.sample(KIND_CUES[kind], 2)
    desc = rng.choice(FRAMES).format(a=a, b=b)
    if rng.random() < LABEL_NOISE:
        tag = rng.choice([t for t in KIND_TAGS[kind] if t != tag])
    return desc, tag


def _balanced_kinds(rng: random.Random, n: int) -> list[str]:
    """n kinds in random order, each kind n // 4 or n // 4 + 1 times: a history and a question set cover all four."""
    kinds = KINDS * (n // len(KINDS)) + rng.sample(KINDS, n % len(KINDS))
    rng.shuffle(kinds)
    return kinds


def _user(rng: random.Random, uid: str, code: str, nq: int) -> tuple[dict, list[dict], list[dict]]:
    """One user: their private map kind -> tag, their questions (balanced over kinds) and golds."""
    taste = {kind: rng.choice(tags) for kind, tags in KIND_TAGS.items()}
    profile = []
    for j, kind in enumerate(_balanced_kinds(rng, rng.randint(12, 18))):
        desc, tag = _record(rng, kind, taste[kind])
        profile.append({"id": f"{uid}-p{j:02d}", "description": desc, "tag": tag, "date": _date(rng, j)})
    questions, golds = [], []
    seen = {item["description"] for item in profile}
    for q, kind in enumerate(_balanced_kinds(rng, nq)):
        qid = f"{code}{q:02d}"
        desc, tag = _unseen(lambda r: _record(r, kind, taste[kind]), rng, seen, qid)
        questions.append({"id": qid, "user_id": uid, "input": LAMP2_INSTRUCTION + desc, "profile": profile})
        golds.append({"id": qid, "output": tag})
    return taste, questions, golds


def make_lamp2_kinds(
    rng: random.Random, n_train_users: int = 45, n_dev_users: int = 30, queries: int = 8, dev_queries: int = 4
):
    """LaMP_2-style tagging where each user tags each kind of movie their own way (dev users are new users)."""
    splits, personas = {}, {}
    for split, n_users, nq in [("train", n_train_users, queries), ("dev", n_dev_users, dev_queries)]:
        questions, golds = [], []
        for u in range(n_users):
            uid = f"{split}-u{u:03d}"
            personas[uid], qs, gs = _user(rng, uid, f"2k{split[0]}{u:03d}", nq)
            questions += qs
            golds += gs
        splits[split] = (questions, golds)
    return "LaMP_2", splits, personas


def _as_examples(questions: list[dict], golds: list[dict]) -> list[Example]:
    """The records as load_examples reads them (without a file in between)."""
    spec, gold = get_task("LaMP_2"), {g["id"]: g["output"] for g in golds}
    return [
        Example(
            q["id"],
            q["input"],
            spec.query(q["input"]),
            [spec.item_text(it) for it in q["profile"]],
            q["profile"],
            gold[q["id"]],
            q["user_id"],
        )
        for q in questions
    ]


def dev_scores(task: str, splits: Splits, personas: dict, gold: dict[str, str]) -> dict:
    """The oracle (the user's tag for the question's kind), and the rules that read less than both together:
    the input alone (fitted on train; at chance among the kind's three tags in expectation), the history's
    majority tag, the tag of BM25's top-1 item."""
    questions = splits["dev"][0]
    oracle = {q["id"]: personas[q["user_id"]][kind_of(q["input"])] for q in questions}
    dev = _as_examples(*splits["dev"])
    input_only = InputOnly(_as_examples(*splits["train"]), task)
    majority = {e.id: majority_label(e, task) for e in dev}
    top1 = {e.id: retrieved_label(e, task) for e in dev}
    return {
        "dev_oracle": rounded(score(task, oracle, gold)),
        "dev_input_only_best": rounded(score(task, {e.id: input_only(e) for e in dev}, gold)),
        "dev_input_only_expected": {
            "accuracy": round(1 / 3, 4),
            "note": "a guess among the three tags of the description's kind, as users' maps are uniform",
        },
        "dev_history_majority": rounded(score(task, majority, gold)),
        "dev_top1_retrieved_label": rounded(score(task, top1, gold)),
    }


SAMPLE = Sample(make_lamp2_kinds, dev_scores)
