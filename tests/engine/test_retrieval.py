"""Retrieval-augmented prompts, the LaMP baselines (minipplug.engine.retrieval)."""

from __future__ import annotations

import random

import pytest

from minipplug.engine.methods import method_examples, parse_retrieval
from minipplug.engine.retrieval import (
    ITEM_SHARE,
    build_prompt,
    render,
    retrieval_prompts,
    retrieve_bm25,
    retrieve_dense,
    retrieve_recency,
)
from minipplug.lamp.data import Example
from minipplug.lamp.tasks import get_task

L2_INPUT = (
    "Which tag does this movie relate to among the following tags? Just answer with the tag name without further "
    "explanation. tags: [sci-fi, based on a book, comedy, action, twist ending, dystopia, dark comedy, classic, "
    "psychology, fantasy, romance, thought-provoking, social commentary, violence, true story] description: "
    "A robot learns to love."
)
L1_INPUT = (
    'For an author who has written the paper with the title "Learning to Rank for Users", which reference is '
    'related? Just answer with [1] or [2] without explanation. [1]: "Deep Ranking Models" [2]: "A History of Bridges"'
)
L3_INPUT = (
    "What is the score of the following review on a scale of 1 to 5? just answer with 1, 2, 3, 4, or 5 without "
    "further explanation. review: Works fine, a bit loud."
)
L4_INPUT = "Generate a headline for the following article: The bridge opened on Monday."
L5_INPUT = "Generate a title for the following abstract of a paper: We study sparse models."
L7_INPUT = "Paraphrase the following tweet without any explanation before or after it: the train is late"


@pytest.fixture(scope="module")
def tok():
    """The default LLM's tokenizer (SmolLM2), which the budget counts with."""
    from transformers import AutoTokenizer

    from minipplug.engine.loading import resolve_llm

    return AutoTokenizer.from_pretrained(resolve_llm())


def ntok(tok, text: str) -> int:
    return len(tok(text, add_special_tokens=False)["input_ids"])


def example(task: str, inp: str, profile: list[dict]) -> Example:
    spec = get_task(task)
    history = [spec.item_text(it) for it in profile]
    return Example(id="q", input=inp, query=spec.query(inp), history=history, profile=profile)


# ---- templates: the full prompt, written out by hand from LAMP.md -----------------------------------------
TEMPLATE_CASES = {
    "LaMP_2": (
        L2_INPUT,
        [
            {"id": "m1", "description": "Ships fight in space.", "tag": "sci-fi", "date": "2001-02-03"},
            {"id": "m2", "description": "A wizard school.", "tag": "fantasy", "rating": 5},
        ],
        'the tag for the movie: "Ships fight in space." is "sci-fi", and the tag for the movie: "A wizard school." '
        'is "fantasy". Which tag does this movie relate to among the following tags? Just answer with the tag name '
        "without further explanation. tags: [sci-fi, based on a book, comedy, action, twist ending, dystopia, dark "
        "comedy, classic, psychology, fantasy, romance, thought-provoking, social commentary, violence, true story] "
        "description: A robot learns to love.",
    ),
    "LaMP_2N": (
        "Which category does this article relate to among the following categories? Just answer with the category "
        "name without further explanation. categories: [food & drink] article: Local team wins the cup.",
        [{"id": "n1", "text": "Prices rise again.", "title": "Markets", "category": "business"}],
        'the category for the article: "Prices rise again." is "business". Which category does this article relate '
        "to among the following categories? Just answer with the category name without further explanation. "
        "categories: [food & drink] article: Local team wins the cup.",
    ),
    "LaMP_3": (
        L3_INPUT,
        [{"id": "s1", "text": "Great kettle.", "score": 5}, {"id": "s3", "text": "Okay lamp.", "score": " 3 "}],
        '5 is the score for "Great kettle.", and 3 is the score for "Okay lamp.". What is the score of the following '
        "review on a scale of 1 to 5? just answer with 1, 2, 3, 4, or 5 without further explanation. review: Works "
        "fine, a bit loud.",
    ),
    "LaMP_4": (
        L4_INPUT,
        [
            {"id": "h1", "title": "Road closed", "text": "The main road is closed."},
            {"id": "h2", "title": "Sun returns", "text": "Finally some sun."},
        ],
        '"Road closed" is the title for "The main road is closed.", and "Sun returns" is the title for "Finally some '
        'sun.". Generate a headline for the following article: The bridge opened on Monday.',
    ),
    "LaMP_5": (
        L5_INPUT,
        [{"id": "t1", "title": "Dense Models", "abstract": "We study dense models."}],
        '"Dense Models" is a title for "We study dense models.". Following the given patterns Generate a title for '
        "the following abstract of a paper: We study sparse models.",
    ),
    "LaMP_7": (
        L7_INPUT,
        [{"id": "w1", "text": "ok so my cat is asleep #vibes"}, {"id": "w2", "text": "ok so it rained #vibes"}],
        '"ok so my cat is asleep #vibes", and "ok so it rained #vibes" are written by a person. Following the given '
        "patterns Paraphrase the following tweet without any explanation before or after it: the train is late",
    ),
    "LaMP_1": (
        L1_INPUT,
        [
            {"id": "p1", "title": "Neural Ranking", "abstract": "We rank documents."},
            {"id": "p2", "title": "User Models", "abstract": "We model users."},
        ],
        'For an author who has written the paper with the title, and "Neural Ranking", and "User Models" "Learning '
        'to Rank for Users", which reference is related? Just answer with [1] or [2] without explanation. [1]: '
        '"Deep Ranking Models" [2]: "A History of Bridges"',
    ),
}


@pytest.mark.parametrize("task", list(TEMPLATE_CASES))
def test_templates_match_lamp(tok, task):
    inp, items, expected = TEMPLATE_CASES[task]
    assert build_prompt(task, inp, items, tok, max_input_tokens=256) == expected


def test_retrieval_prompts_recency_end_to_end(tok):
    # Items in recency order (newest first), rendered with the LaMP_4 template.
    profile = [
        {"id": "a", "title": "Old", "text": "old news", "date": "2019-2-3"},
        {"id": "b", "title": "New", "text": "new news", "date": "2019-10-1"},
        {"id": "c", "title": "Undated", "text": "no date"},
    ]
    out = retrieval_prompts([example("LaMP_4", L4_INPUT, profile)], "LaMP_4", "recency", 2, tok)
    assert out == ['"New" is the title for "new news", and "Old" is the title for "old news". ' + L4_INPUT]


# ---- retrievers -----------------------------------------------------------------------------------------
def test_bm25_ranks_the_item_with_the_rare_query_words_first():
    # Query "loud kettle whistle": item 3 holds all three words (whistle occurs nowhere else); items 0 and 1
    # share one word each (kettle, loud: both in 2 of 5 items, same idf), and item 0 is shorter, so BM25's
    # length normalisation puts it ahead of item 1; items 2 and 4 share nothing (score 0, profile order).
    texts = [
        "great kettle boils fast",
        "the blender is loud but strong",
        "cheap lamp broke quickly",
        "my kettle whistle is loud",
        "nice mug",
    ]
    inp = "What is the score of the following review on a scale of 1 to 5? review: loud kettle whistle"
    ex = example("LaMP_3", inp, [{"id": str(i), "text": t, "score": 3} for i, t in enumerate(texts)])
    spec = get_task("LaMP_3")
    assert retrieve_bm25(ex, spec, 5) == [3, 0, 1, 2, 4]
    assert retrieve_bm25(ex, spec, 1) == [3]
    assert retrieve_bm25(ex, spec, 10) == [3, 0, 1, 2, 4]  # k larger than the profile: every item once


def test_recency_sorts_dates_on_their_integer_parts():
    dates = ["2019-2-3", None, "2019-10-1", "2018-12-31", "2019-2-3", None]
    profile = [{"id": str(i), "text": "t"} | ({"date": d} if d else {}) for i, d in enumerate(dates)]
    ex = example("LaMP_7", L7_INPUT, profile)
    # String order would put '2019-2-3' after '2019-10-1'; equal dates and undated items keep profile order.
    assert retrieve_recency(ex, 6) == [2, 0, 4, 3, 1, 5]
    assert retrieve_recency(ex, 2) == [2, 0]


def test_dense_returns_the_semantically_related_item_first(tok, encoder):
    from minipplug.model.encoder import HistoryEncoder, SentenceEncoder

    tokenizer, model, pooling = encoder
    hist = HistoryEncoder(SentenceEncoder(tokenizer, model, pooling), "minilm")
    profile = [
        {"id": "0", "text": "A recipe for chocolate cake with butter and sugar."},
        {"id": "1", "text": "The football team won the championship final."},
        {"id": "2", "text": "Stock prices fell sharply on Wall Street."},
    ]
    inp = L7_INPUT.replace("the train is late", "the soccer club scored a late goal to win the league")
    ex = example("LaMP_7", inp, profile)
    spec = get_task("LaMP_7")
    assert retrieve_dense(ex, spec, 1, hist) == [1]
    before = hist.encoder.texts_encoded
    assert retrieve_dense(ex, spec, 3, hist)[0] == 1
    assert hist.encoder.texts_encoded == before + 1  # only the query: item vectors come from the cache
    # PPlug + retrieval: the one most relevant item in front of the input.
    assert [e.input for e in method_examples("pplug+retrieval", [ex], "LaMP_7", tok, 256, hist)] == [
        f'"{profile[1]["text"]}" are written by a person. Following the given patterns {ex.input}'
    ]


# ---- token budget ---------------------------------------------------------------------------------------
WORDS = ["the", "model", "réseau", "naïve", "data,", "rank.", "user's", "🙂", "日本語", "(2019)", "—", "x"]
FIELDS = {
    "LaMP_1": ("title", "abstract"),
    "LaMP_2": ("description", "tag"),
    "LaMP_2N": ("text", "title", "category"),
    "LaMP_3": ("text", "score"),
    "LaMP_4": ("title", "text"),
    "LaMP_5": ("title", "abstract"),
    "LaMP_7": ("text",),
}
FREE = {
    "LaMP_1": "title",
    "LaMP_2": "description",
    "LaMP_2N": "text",
    "LaMP_3": "text",
    "LaMP_4": "text",
    "LaMP_5": "abstract",
    "LaMP_7": "text",
}


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def test_budget_never_overflows_and_input_keeps_its_share(tok):
    rng = random.Random(0)
    inputs = {
        "LaMP_1": L1_INPUT,
        "LaMP_2": L2_INPUT,
        "LaMP_2N": "categories: [x] article: ",
        "LaMP_3": L3_INPUT,
        "LaMP_4": L4_INPUT,
        "LaMP_5": L5_INPUT,
        "LaMP_7": L7_INPUT,
    }
    seen = {"input over the window": 0, "items cut": 0, "items whole": 0}
    for case in range(100):
        task = list(FIELDS)[case % len(FIELDS)]
        window = rng.choice([48, 128, 256, 512])
        inp = inputs[task] + " " + _words(rng, rng.choice([0, 5, 20, 40, 80, 400]))
        items = []
        for _ in range(rng.randint(1, 6)):
            item = {f: _words(rng, rng.randint(1, 4)) for f in FIELDS[task]}
            item[FREE[task]] = _words(rng, rng.choice([0, 3, 30, 300]))
            items.append(item)
        prompt = build_prompt(task, inp, items, tok, window)
        n_in = ntok(tok, inp)
        assert ntok(tok, prompt) <= window, (case, task, window)
        if n_in > window:
            assert prompt == tok.decode(tok(inp, add_special_tokens=False)["input_ids"][:window]).rstrip("\ufffd")
            seen["input over the window"] += 1
            continue
        seen["items whole" if prompt == render(task, inp, items) else "items cut"] += 1
        # The input is kept whole, and the items take at most 60% of the window.
        assert ntok(tok, prompt) - n_in <= int(ITEM_SHARE * window), (case, task, window)
        if task != "LaMP_1":
            assert prompt.endswith(inp)
        else:
            at = inp.index("title") + len("title")
            assert prompt.startswith(inp[:at]) and prompt.endswith(inp[at:])
    assert min(seen.values()) >= 5, seen  # every branch was exercised, not only the easy one


def test_budget_shares_tokens_equally_and_passes_on_what_short_items_leave(tok):
    long_text = " ".join(["word"] * 500)
    items = [{"text": long_text}, {"text": long_text}]
    inp = L7_INPUT
    prompt = build_prompt("LaMP_7", inp, items, tok, 128)
    first, second = prompt.split('", and "')
    assert abs(ntok(tok, first) - ntok(tok, second.split('"')[0])) <= 2  # equal shares (up to the quotes)
    assert ntok(tok, prompt) <= 128
    # A short first item leaves its unused share to the second one.
    prompt2 = build_prompt("LaMP_7", inp, [{"text": "hi"}, {"text": long_text}], tok, 128)
    assert ntok(tok, prompt2.split('", and "')[1].split('"')[0]) > ntok(tok, second.split('"')[0])
    assert ntok(tok, prompt2) <= 128


def test_items_that_cannot_fit_are_dropped(tok):
    # Titles are never cut (only the free text is); 30 long titles cannot fit 60% of 64 tokens at all.
    items = [{"title": " ".join(["headline"] * 30), "text": "body"} for _ in range(3)]
    assert build_prompt("LaMP_4", L4_INPUT, items, tok, 64) == L4_INPUT
    assert build_prompt("LaMP_4", L4_INPUT, [], tok, 64) == L4_INPUT


# ---- method names and empty profiles --------------------------------------------------------------------
def test_parse_retrieval_refuses_malformed_names():
    assert parse_retrieval("dense-k8") == ("dense", 8)
    for bad in ["bm25-k0", "bm25-4", "bm25-k", "contriever-k4", "bm25-k4x", "", "pplug"]:
        with pytest.raises(ValueError, match="unknown retrieval method"):
            parse_retrieval(bad)


def test_empty_profile_gives_the_plain_input(tok):
    ex = example("LaMP_4", L4_INPUT, [])
    for method in ["bm25", "recency"]:
        assert retrieval_prompts([ex], "LaMP_4", method, 4, tok) == [L4_INPUT]
    with pytest.raises(ValueError, match="HistoryEncoder"):
        retrieval_prompts([ex], "LaMP_4", "dense", 4, tok)
