"""One-line rules without an LLM (minipplug.lamp.rules), against answers worked out by hand."""

from __future__ import annotations

from minipplug.lamp.data import Example
from minipplug.lamp.rules import InputOnly, bm25_ranking, majority_label, query_words, retrieved_label
from minipplug.lamp.samples import LAMP2_INSTRUCTION


def movie(query: str, tags: list[str] = (), descriptions: list[str] | None = None, target: str | None = None):
    descriptions = descriptions or [f"movie {i}" for i in range(len(tags))]
    profile = [{"id": str(i), "description": d, "tag": t} for i, (d, t) in enumerate(zip(descriptions, tags))]
    return Example("q", LAMP2_INSTRUCTION + query, query, [], profile, target, "u")


def review(scores: list) -> Example:
    profile = [{"id": str(i), "text": f"review {i}", "score": s} for i, s in enumerate(scores)]
    return Example("q", "review: fine", "fine", [], profile, None, "u")


def test_majority_label_counts_and_breaks_ties_by_the_task_label_order() -> None:
    assert majority_label(movie("x", ["action", "action", "comedy"]), "LaMP_2") == "action"
    # comedy 2, action 2: comedy comes before action in LaMP_2's tag list (3rd vs 4th), whatever the profile order
    assert majority_label(movie("x", ["action", "comedy", "action", "comedy", "sci-fi"]), "LaMP_2") == "comedy"
    assert majority_label(movie("x", ["comedy", "action", "comedy", "action"]), "LaMP_2") == "comedy"
    assert majority_label(movie("x", []), "LaMP_2") == ""
    # LaMP_3 scores stored as numbers or strings count as one label: 4, "4", 4.0 -> "4" three times
    assert majority_label(review([4, "4", 4.0, "2", 5]), "LaMP_3") == "4"
    assert majority_label(review([5, "1"]), "LaMP_3") == "1"  # a tie: "1" before "5"


def test_input_only_word_votes_fitted_on_training_questions() -> None:
    train = [
        movie("red car chase", target="action"),
        movie("red balloon", target="comedy"),
        movie("car wedding", target="comedy"),
    ]
    rule = InputOnly(train, "LaMP_2")
    # red: action 1/2, comedy 1/2; chase: action 1. Votes: action 0.5 + 1 = 1.5, comedy 0.5.
    assert rule(movie("a red chase")) == "action"
    # red and car: action 0.5 + 0.5 = 1.0, comedy 0.5 + 0.5 = 1.0: a tie, comedy comes first in the tag list.
    assert rule(movie("Red, CAR!")) == "comedy"
    # balloon alone: comedy 1.
    assert rule(movie("balloon")) == "comedy"
    # No known word: the most frequent training gold (comedy, 2 of 3).
    assert rule(movie("an unknown plot")) == "comedy"
    assert query_words("Red, CAR! it's sci-fi") == {"red", "car", "it's", "sci-fi"}


def test_retrieved_label_is_the_label_of_bm25s_first_item() -> None:
    descriptions = ["space ship crew", "a wedding party", "a car chase"]
    ex = movie("ship in space", ["sci-fi", "comedy", "action"], descriptions)
    # 3 items; ship and space occur in one: idf log((3 - 1 + 0.5) / (1 + 0.5)) > 0, only item 0 scores.
    assert bm25_ranking(descriptions, "ship in space")[0] == 0
    assert retrieved_label(ex, "LaMP_2") == "sci-fi"
    # Any ranking can be given: this one puts the last item first.
    assert retrieved_label(ex, "LaMP_2", rank=lambda items, query: [2, 1, 0]) == "action"
    assert retrieved_label(movie("x", []), "LaMP_2") == ""


def test_retrieved_label_keeps_lamps_order_on_equal_scores() -> None:
    # 2 items, the query's words in one: idf log((2 - 1 + 0.5) / (1 + 0.5)) = 0, so both score 0. rank_bm25's
    # get_top_n (numpy's argsort reversed) then puts the LATER item first, and LaMP with it.
    ex = movie("ship in space", ["sci-fi", "comedy"], ["space ship crew", "a wedding party"])
    assert bm25_ranking(["space ship crew", "a wedding party"], "ship in space") == [1, 0]
    assert retrieved_label(ex, "LaMP_2") == "comedy"


def test_retrieved_label_reads_a_score_as_an_answer() -> None:
    ex = Example(
        "q",
        "review: loud kettle",
        "loud kettle",
        [],
        [
            {"id": "0", "text": "quiet lamp", "score": "2"},
            {"id": "1", "text": "loud kettle indeed", "score": 5.0},
            {"id": "2", "text": "nice mug", "score": 3},
        ],
    )
    assert retrieved_label(ex, "LaMP_3") == "5"
