"""Retrieval-augmented prompts, the LaMP baselines (minipplug.engine.retrieval)."""

from __future__ import annotations

import random

import pytest

from minipplug.engine.methods import get_method, method_examples, parse_retrieval
from minipplug.engine.retrieval import (
    INPUT_SHARE,
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


# ---- templates: the full prompt, written out by hand from LaMP's prompts/prompts.py --------------------------
# Every rendered item ends with a space (LaMP_1's quoted title excepted): joints read ' , and ' and ' . '.
TEMPLATE_CASES = {
    "LaMP_2": (
        L2_INPUT,
        [
            {"id": "m1", "description": "Ships fight in space.", "tag": "sci-fi", "date": "2001-02-03"},
            {"id": "m2", "description": "A wizard school.", "tag": "fantasy", "rating": 5},
        ],
        'the tag for the movie: "Ships fight in space." is "sci-fi" , and the tag for the movie: "A wizard school." '
        'is "fantasy" . Which tag does this movie relate to among the following tags? Just answer with the tag name '
        "without further explanation. tags: [sci-fi, based on a book, comedy, action, twist ending, dystopia, dark "
        "comedy, classic, psychology, fantasy, romance, thought-provoking, social commentary, violence, true story] "
        "description: A robot learns to love.",
    ),
    "LaMP_2N": (
        "Which category does this article relate to among the following categories? Just answer with the category "
        "name without further explanation. categories: [food & drink] article: Local team wins the cup.",
        [{"id": "n1", "text": "Prices rise again.", "title": "Markets", "category": "business"}],
        'the category for the article: "Prices rise again." is "business" . Which category does this article '
        "relate to among the following categories? Just answer with the category name without further explanation. "
        "categories: [food & drink] article: Local team wins the cup.",
    ),
    "LaMP_3": (  # the score as stored: ' 3 ' keeps its spaces, 5 prints as 5
        L3_INPUT,
        [{"id": "s1", "text": "Great kettle.", "score": 5}, {"id": "s3", "text": "Okay lamp.", "score": " 3 "}],
        '5 is the score for "Great kettle." , and  3  is the score for "Okay lamp." . What is the score of the '
        "following review on a scale of 1 to 5? just answer with 1, 2, 3, 4, or 5 without further explanation. "
        "review: Works fine, a bit loud.",
    ),
    "LaMP_4": (
        L4_INPUT,
        [
            {"id": "h1", "title": "Road closed", "text": "The main road is closed."},
            {"id": "h2", "title": "Sun returns", "text": "Finally some sun."},
        ],
        '"Road closed" is the title for "The main road is closed." , and "Sun returns" is the title for "Finally '
        'some sun." . Generate a headline for the following article: The bridge opened on Monday.',
    ),
    "LaMP_5": (
        L5_INPUT,
        [{"id": "t1", "title": "Dense Models", "abstract": "We study dense models."}],
        '"Dense Models" is a title for "We study dense models." . Following the given patterns Generate a title for '
        "the following abstract of a paper: We study sparse models.",
    ),
    "LaMP_6": (
        "Generate a subject for the following email: Lunch on Friday?",
        [{"id": "e1", "title": "Lunch", "text": "Shall we meet at noon"}],
        '"Lunch" is the title for "Shall we meet at noon" . Generate a subject for the following email: Lunch on '
        "Friday?",
    ),
    "LaMP_7": (  # the last item's space and the suffix's make two
        L7_INPUT,
        [{"id": "w1", "text": "ok so my cat is asleep #vibes"}, {"id": "w2", "text": "ok so it rained #vibes"}],
        '"ok so my cat is asleep #vibes" , and "ok so it rained #vibes"  are written by a person. Following the '
        "given patterns Paraphrase the following tweet without any explanation before or after it: the train is late",
    ),
    "LaMP_1": (  # no trailing space; the titles go right after the input's first "title"
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
    assert build_prompt(get_task(task), inp, items, tok, max_input_tokens=512) == expected
    assert render(get_task(task), inp, items) == expected  # nothing was cut


def test_retrieval_prompts_recency_end_to_end(tok):
    # Items in recency order (newest first), rendered with the LaMP_4 template.
    profile = [
        {"id": "a", "title": "Old", "text": "old news", "date": "2019-2-3"},
        {"id": "b", "title": "New", "text": "new news", "date": "2019-10-1"},
        {"id": "c", "title": "Undated", "text": "no date"},
    ]
    out = retrieval_prompts([example("LaMP_4", L4_INPUT, profile)], get_task("LaMP_4"), "recency", 2, tok)
    assert out == ['"New" is the title for "new news" , and "Old" is the title for "old news" . ' + L4_INPUT]


def test_queries_lamp_retrieves_with_and_the_plug_reads():
    # LaMP's retrievers (prompts.py): LaMP_1 the 2nd and 3rd quoted strings, space-joined; LaMP_6/7 what follows
    # the first colon; the others what follows their marker. The plug (the PPlug authors' input encoder): for
    # LaMP_1 the user's own paper title.
    l1 = get_task("LaMP_1")
    assert l1.retrieval_query(L1_INPUT) == "Deep Ranking Models A History of Bridges"
    assert l1.query(L1_INPUT) == "Learning to Rank for Users"
    assert get_task("LaMP_6").retrieval_query("Generate a subject for the following email: Lunch: Friday?") == (
        "Lunch: Friday?"
    )
    assert get_task("LaMP_7").retrieval_query(L7_INPUT) == "the train is late" == get_task("LaMP_7").query(L7_INPUT)
    assert (
        get_task("LaMP_2").retrieval_query(L2_INPUT) == "A robot learns to love." == get_task("LaMP_2").query(L2_INPUT)
    )


# ---- the budget, computed by hand with a tokenizer whose counts are obvious --------------------------------
class WordTokenizer:
    """One token per white-space separated word, then a closing </s> (id 0), as T5's tokenizer adds one.

    Truncation follows Hugging Face's fast tokenizers: max_length counts the </s>, so max_length=m keeps m-1
    words; a negative max_length raises OverflowError, as the Rust tokenizer does.
    """

    def __init__(self):
        self.words = ["</s>"]

    def __call__(self, text, max_length=None, truncation=False, **kwargs):
        ids = []
        for w in text.split():
            self.words.append(w)
            ids.append(len(self.words) - 1)
        if truncation and max_length is not None:
            if max_length < 0:
                raise OverflowError("can't convert negative int to unsigned")
            ids = ids[: max(max_length - 1, 0)]
        return {"input_ids": ids + [0]}

    def batch_decode(self, seqs, skip_special_tokens=False):
        return [" ".join(self.words[i] for i in ids if not (skip_special_tokens and i == 0)) for ids in seqs]


def test_budget_lamp_2_equal_shares_and_what_a_short_item_leaves():
    # Input: 9 words + </s> = 10 tokens; window 40: items get 40 - min(10, int(0.6 * 40) = 24) = 30 tokens.
    # Per item (30 - 1 - 2 * (2 - 1)) // 2 = 13. An item's fixed part, 'the tag for the movie: " " is "sci-fi" ',
    # is 9 words + </s> = 10, so each description may take 13 - 10 = 3 tokens (2 words + </s>).
    inp = "Which tag fits? description: A robot learns to love."
    short = {"description": "Ships.", "tag": "sci-fi"}
    long = {"description": "A wizard school for two young friends in the mountains", "tag": "fantasy"}
    # "Ships." uses 2 of its 3 tokens: the one left passes on, so the long one keeps 3 words.
    assert build_prompt(get_task("LaMP_2"), inp, [short, long], WordTokenizer(), 40) == (
        'the tag for the movie: "Ships." is "sci-fi" , and the tag for the movie: "A wizard school" is "fantasy" . '
        "Which tag fits? description: A robot learns to love."
    )
    # The long one first: it keeps 2 words, nothing is left over, and "Ships." still fits.
    assert build_prompt(get_task("LaMP_2"), inp, [long, short], WordTokenizer(), 40) == (
        'the tag for the movie: "A wizard" is "fantasy" , and the tag for the movie: "Ships." is "sci-fi" . '
        "Which tag fits? description: A robot learns to love."
    )


def test_budget_items_keep_40_percent_of_the_window_against_a_long_input():
    # 31 words + </s>: the input counts as int(0.6 * 40) = 24, so the item gets 40 - 24 = 16 tokens (the old rule,
    # min(40 - 32, 24), gave it 8). Per item 16 - 1 = 15; fixed part '"Road closed" is the title for " " ' is
    # 8 words + </s> = 9; the text keeps 15 - 9 - 1 = 5 words. The input stays whole (the LLM cuts the end).
    inp = (
        "Generate a headline for the following article: the bridge over the river opened on monday after two "
        "years of work and the whole town came to see it open at last"
    )
    assert len(inp.split()) + 1 > 24
    item = {"title": "Road closed", "text": "The main road is closed all week because of the flood"}
    assert build_prompt(get_task("LaMP_4"), inp, [item], WordTokenizer(), 40) == (
        '"Road closed" is the title for "The main road is closed" . ' + inp
    )


def test_budget_counts_the_input_less_when_an_item_does_not_fit_then_gives_up():
    # 12 words + </s> = 13 tokens, window 20. Fixed part '"A B C" is the title for " " ' = 9 words + </s> = 10.
    # factor 0.6: budget 20 - min(13, 12) = 8, per item 7, text limit 7 - 10 < 0: LaMP's tokenizer call fails;
    # 0.5: budget 20 - 10 = 10, limit -1, fails; 0.4: budget 20 - 8 = 12, per item 11, limit 1 = the </s>
    # alone: an empty text, the item kept.
    inp = "Generate a headline for the following article: The bridge opened on Monday."
    item = {"title": "A B C", "text": "Some long text here"}
    assert build_prompt(get_task("LaMP_4"), inp, [item], WordTokenizer(), 20) == '"A B C" is the title for "" . ' + inp
    # Window 4: even the whole window (factor 2.8e-17 after 0.1) leaves a negative limit: the input alone.
    assert build_prompt(get_task("LaMP_4"), inp, [item], WordTokenizer(), 4) == inp
    assert build_prompt(get_task("LaMP_4"), inp, [], WordTokenizer(), 64) == inp


def test_budget_lamp_1_lamp_2n_lamp_3_lamp_5_lamp_6_lamp_7_by_hand():
    tk = WordTokenizer
    # LaMP_1: 23 words + </s> = 24; window 50: 50 - min(24, 30) = 26; per item (26 - 0 - 2) // 2 = 12; the
    # fixed part is 2 (LaMP's constant), so a title may take 10 tokens = 9 words; it uses all: nothing passes on.
    inp1 = (
        'For an author who has written the paper with the title "Learning to Rank", which reference is related? '
        '[1]: "Deep Ranking" [2]: "Bridges"'
    )
    items1 = [{"title": "A very long title about users and their models of the world"}, {"title": "Neural Ranking"}]
    assert build_prompt(get_task("LaMP_1"), inp1, items1, tk(), 50) == (
        'For an author who has written the paper with the title, and "A very long title about users and their '
        'models", and "Neural Ranking" "Learning to Rank", which reference is related? [1]: "Deep Ranking" [2]: '
        '"Bridges"'
    )
    # LaMP_2N: 8 words + </s> = 9; window 24: 24 - min(9, 14) = 15; per item 14; fixed part 'the category for
    # the article: " " is "business" ' = 10: a limit of 4 tokens, which "Prices rise again." (3 + </s>) fills.
    inp2n = "Which category? article: Local team wins the cup."
    item2n = {"text": "Prices rise again.", "title": "Markets", "category": "business"}
    assert build_prompt(get_task("LaMP_2N"), inp2n, [item2n], tk(), 24) == (
        'the category for the article: "Prices rise again." is "business" . ' + inp2n
    )
    # LaMP_3: the score not stripped; 14 words + </s> = 15; window 60: per item (45 - 1 - 2) // 2 = 21, room.
    inp3 = "What is the score of the following review? review: Works fine, a bit loud."
    items3 = [{"text": "Great kettle.", "score": 5}, {"text": "Okay lamp.", "score": " 3 "}]
    assert build_prompt(get_task("LaMP_3"), inp3, items3, tk(), 60) == (
        '5 is the score for "Great kettle." , and  3  is the score for "Okay lamp." . ' + inp3
    )
    # LaMP_5: 14 words + </s> = 15; window 40: 25 tokens; per item 25 - 1 - len("Following the given patterns" +
    # </s>) = 19; LaMP measures the fixed part as '"Dense Models" is a title " " ' (sic, no "for"): 7 + 1 = 8;
    # the abstract keeps 19 - 8 - 1 = 10 words.
    inp5 = "Generate a title for the following abstract of a paper: We study sparse models."
    item5 = {
        "title": "Dense Models",
        "abstract": "We study dense models for ranking and retrieval at very large scale with little memory",
    }
    assert build_prompt(get_task("LaMP_5"), inp5, [item5], tk(), 40) == (
        '"Dense Models" is a title for "We study dense models for ranking and retrieval at very" . Following the '
        "given patterns " + inp5
    )
    # LaMP_6: LaMP_4's template; 10 words + </s> = 11; window 40: room for the whole text.
    inp6 = "Generate a subject for the following email: Lunch on Friday?"
    item6 = {"title": "Lunch", "text": "Shall we meet at noon"}
    assert build_prompt(get_task("LaMP_6"), inp6, [item6], tk(), 40) == (
        '"Lunch" is the title for "Shall we meet at noon" . ' + inp6
    )
    # LaMP_7: 15 words + </s> = 16; window 48: 32 tokens; LaMP reserves 1, 2 for the joint and the tokens of
    # "are written by user. Following the given patterns" (8 + 1): per item (32 - 1 - 2 - 9) // 2 = 10; fixed
    # part '"" ' = 1 + 1 = 2; the first text keeps 10 - 2 - 1 = 7 words.
    items7 = [{"text": "ok so my cat is asleep again and again and again #vibes"}, {"text": "rain"}]
    inp7 = "Paraphrase the following tweet without any explanation before or after it: the train is late"
    assert build_prompt(get_task("LaMP_7"), inp7, items7, tk(), 48) == (
        '"ok so my cat is asleep again" , and "rain"  are written by a person. Following the given patterns ' + inp7
    )


def test_budget_with_the_llm_tokenizer_gives_a_prompt_as_long_as_lamp_s(tok):
    # A 75-token input and a 256-token window: the items get 256 - 75 = 181 tokens (the old rule gave them
    # min(181, 153) = 153, a prompt of at most 228 tokens).
    words = _words(random.Random(1), 200).split()
    inp = L2_INPUT
    while ntok(tok, inp) < 75:
        inp += " " + words.pop()
    assert ntok(tok, inp) == 75
    items = [{"description": _words(random.Random(i), 300), "tag": "comedy"} for i in range(4)]
    prompt = build_prompt(get_task("LaMP_2"), inp, items, tok, 256)
    assert prompt.endswith(" . " + inp)
    assert 245 <= ntok(tok, prompt) <= 256, ntok(tok, prompt)


# ---- retrievers -----------------------------------------------------------------------------------------
# ---- retrievers -----------------------------------------------------------------------------------------
def test_bm25_ranks_the_item_with_the_rare_query_words_first():
    # Query "loud kettle whistle": item 3 holds all three words (whistle occurs nowhere else); items 0 and 1
    # share one word each (kettle, loud: both in 2 of 5 items, same idf), and item 0 is shorter, so BM25's
    # length normalisation puts it ahead of item 1; items 2 and 4 share nothing (score 0): rank_bm25's
    # get_top_n (argsort, reversed) puts the later one first.
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
    assert retrieve_bm25(ex, spec, 5) == [3, 0, 1, 4, 2]
    assert retrieve_bm25(ex, spec, 1) == [3]
    assert retrieve_bm25(ex, spec, 10) == [3, 0, 1, 4, 2]  # k larger than the profile: every item once


def test_bm25_ties_come_in_get_top_n_order_the_later_item_first():
    # Items 0 and 2 are the same one word "kettle" (in 2 of 5 items: idf log(3.5 / 2.5) > 0): equal scores;
    # 1, 3 and 4 score 0. LaMP calls get_top_n: np.argsort([s, 0, s, 0, 0]) = [1, 3, 4, 0, 2] (numpy keeps
    # the order of equal values on arrays this short), reversed: [2, 0, 4, 3, 1].
    ex = example(
        "LaMP_3", "review: kettle", [{"text": t, "score": 1} for t in ["kettle", "lamp", "kettle", "mug", "cup"]]
    )
    assert retrieve_bm25(ex, get_task("LaMP_3"), 5) == [2, 0, 4, 3, 1]
    assert retrieve_bm25(ex, get_task("LaMP_3"), 2) == [2, 0]


def test_recency_sorts_dates_on_their_integer_parts():
    dates = ["2019-2-3", None, "2019-10-1", "2018-12-31", "2019-2-3", None]
    profile = [{"id": str(i), "text": "t"} | ({"date": d} if d else {}) for i, d in enumerate(dates)]
    ex = example("LaMP_7", L7_INPUT, profile)
    # String order would put '2019-2-3' after '2019-10-1'. LaMP sorts ascending (stable: 3, 0, 4, 2), takes the
    # last k and reverses them: equal dates come later item first (4 before 0). Undated items last, in order.
    assert retrieve_recency(ex, 6) == [2, 4, 0, 3, 1, 5]
    assert retrieve_recency(ex, 2) == [2, 4]


def test_recency_on_equal_dates_takes_the_later_profile_item_first():
    # Dates 2019, 2020, 2020, 2020, 2018: LaMP's sorted profile is items 4, 0, 1, 2, 3; the last two, reversed,
    # are items 3 and 2.
    profile = [{"id": str(i), "text": "t", "date": d} for i, d in enumerate(["2019", "2020", "2020", "2020", "2018"])]
    assert retrieve_recency(example("LaMP_7", L7_INPUT, profile), 2) == [3, 2]


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
    # PPlug + retrieval: the one most relevant item in front of the input (two spaces, as in LaMP).
    reads = dict(tokenizer=tok, max_input_tokens=256, hist=hist)
    assert [e.input for e in method_examples(get_method("pplug+retrieval"), [ex], spec, **reads)] == [
        f'"{profile[1]["text"]}"  are written by a person. Following the given patterns {ex.input}'
    ]


# ---- the budget on random items: LaMP's bounds hold with the LLM's own tokenizer ------------------------------
WORDS = ["the", "model", "réseau", "naïve", "data,", "rank.", "user's", "🙂", "日本語", "(2019)", "—", "x"]
FIELDS = {
    "LaMP_1": ("title", "abstract"),
    "LaMP_2": ("description", "tag"),
    "LaMP_2N": ("text", "title", "category"),
    "LaMP_3": ("text", "score"),
    "LaMP_4": ("title", "text"),
    "LaMP_5": ("title", "abstract"),
    "LaMP_6": ("title", "text"),
    "LaMP_7": ("text",),
}


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def test_budget_keeps_the_input_whole_and_the_items_within_their_share(tok):
    # Short fixed parts (one or two words besides the free text) and windows of 256+ tokens: every item's
    # fixed part fits its share, so LaMP's first budget holds: the items take at most
    # window - min(input, int(0.6 * window)) tokens, up to a token or two where BPE merges across the seams
    # differ from the pieces LaMP counts one by one. The input is never cut.
    rng = random.Random(0)
    inputs = {t: case[0] for t, case in TEMPLATE_CASES.items()}
    seen = {"input over 60%": 0, "items cut": 0, "items whole": 0}
    for case in range(80):
        task = list(FIELDS)[case % len(FIELDS)]
        spec = get_task(task)
        window = rng.choice([256, 512])
        inp = inputs[task] + " " + _words(rng, rng.choice([0, 5, 20, 80, 400]))
        items = []
        for _ in range(rng.randint(1, 3)):
            item = {f: _words(rng, rng.randint(1, 2)) for f in FIELDS[task]}
            item[spec.free_field] = _words(rng, rng.choice([0, 3, 30, 300]))
            items.append(item)
        prompt = build_prompt(spec, inp, items, tok, window)
        n_in = ntok(tok, inp)
        share = window - min(n_in, int(INPUT_SHARE * window))
        assert ntok(tok, prompt) - n_in <= share + 2, (case, task, window)
        seen[
            "input over 60%"
            if n_in > INPUT_SHARE * window
            else "items whole"
            if prompt == render(spec, inp, items)
            else "items cut"
        ] += 1
        if task != "LaMP_1":
            assert prompt.endswith(inp)
        else:
            at = inp.index("title") + len("title")
            assert prompt.startswith(inp[:at]) and prompt.endswith(inp[at:])
    assert min(seen.values()) >= 5, seen  # every branch was exercised, not only the easy one


# ---- method names and empty profiles --------------------------------------------------------------------
def test_parse_retrieval_refuses_malformed_names():
    assert parse_retrieval("dense-k8") == ("dense", 8)
    for bad in ["bm25-k0", "bm25-4", "bm25-k", "contriever-k4", "bm25-k4x", "", "pplug"]:
        with pytest.raises(ValueError, match="unknown retrieval method"):
            parse_retrieval(bad)


def test_empty_profile_gives_the_plain_input(tok):
    ex = example("LaMP_4", L4_INPUT, [])
    for retriever in ["bm25", "recency"]:
        assert retrieval_prompts([ex], get_task("LaMP_4"), retriever, 4, tok) == [L4_INPUT]
    with pytest.raises(ValueError, match="HistoryEncoder"):
        retrieval_prompts([ex], get_task("LaMP_4"), "dense", 4, tok)
