"""``lamp7_style`` (LaMP_7 format): a neutral tweet; each user paraphrases it with their own opener and closing
hashtag, which only their past tweets show (never the asked tweet itself)."""

from __future__ import annotations

import random

from ..metrics import score
from .common import Sample, Splits, _date, rounded

LAMP7_INSTRUCTION = "Paraphrase the following tweet without any explanation before or after it: "

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


def dev_scores(task: str, splits: Splits, personas: dict, gold: dict[str, str]) -> dict:
    """The oracle (the user's opener and hashtag around the tweet) and the input alone (the tweet, copied)."""
    questions = splits["dev"][0]
    tweet = lambda q: q["input"][len(LAMP7_INSTRUCTION) :]  # noqa: E731
    oracle = {q["id"]: f"{personas[q['user_id']][0]} {tweet(q)} {personas[q['user_id']][1]}" for q in questions}
    only = {q["id"]: tweet(q) for q in questions}
    return {"dev_oracle": rounded(score(task, oracle, gold)), "dev_input_only_best": rounded(score(task, only, gold))}


SAMPLE = Sample(make_lamp7, dev_scores)
