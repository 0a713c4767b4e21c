"""One-line rules, no LLM: what a label task's answer can be read off without learning a user.

Each rule maps an Example to an answer, so it scores like any method (``score(task, {e.id: rule(e)}, golds)``):

- ``majority_label``: the label the user's whole history uses most (ties: the label that comes first in the
  task's label list), the persona a plug could learn without looking at the question;
- ``InputOnly``: the best guess from the input alone, fitted on training questions: every word of the query
  votes with the share of each gold label among the training questions that contain it; the most votes win
  (ties: label-list order; no known word: the most frequent training gold);
- ``retrieved_label``: the label of the history item LaMP's BM25 retrieves first for the query (its query, its
  item text and rank_bm25's own order on equal scores, as engine/retrieval.py and LaMP do).

An answer is "" where a rule has nothing to go on (an empty history): the scorer counts it wrong.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Callable

from .data import Example
from .tasks import TaskSpec, get_task

Ranker = Callable[[list[str], str], list[int]]  # (item texts, query) -> item indices, best first


def item_label(item: dict, spec: TaskSpec) -> str:
    """A profile item's label as the task writes its answers ("4" for a LaMP_3 score stored as 4 or 4.0)."""
    value = str(item[spec.persona_field]).strip()
    if spec.kind == "regression":
        number = float(value)
        return str(int(number)) if number.is_integer() else value
    return value


def _first_of_most(counts: Counter, spec: TaskSpec) -> str:
    """The most counted label; on a tie the one earliest in the task's label list (unknown labels after it)."""
    order = {label: i for i, label in enumerate(spec.labels)}
    return min(counts, key=lambda label: (-counts[label], order.get(label, len(order)), label))


def majority_label(example: Example, task: str | TaskSpec) -> str:
    """The label the user's history uses most (ties: task label order); "" for an empty history."""
    spec = get_task(task)
    counts = Counter(item_label(item, spec) for item in example.profile)
    return _first_of_most(counts, spec) if counts else ""


def query_words(text: str) -> set[str]:
    """The distinct lower-case words of a text (letters, digits, inner apostrophes and hyphens)."""
    return set(re.findall(r"\w+(?:['-]\w+)*", text.lower()))


class InputOnly:
    """The input-alone rule, fitted on training Examples (word -> counts of gold labels), then applied to any."""

    def __init__(self, train: list[Example], task: str | TaskSpec):
        self.spec = get_task(task)
        self.word_golds: dict[str, Counter] = defaultdict(Counter)
        for e in train:
            for word in query_words(e.query):
                self.word_golds[word][e.target] += 1
        self.fallback = _first_of_most(Counter(e.target for e in train), self.spec)

    def __call__(self, example: Example) -> str:
        """Sum over the query's known words of each label's share among that word's training golds."""
        votes: Counter = Counter()
        for word in query_words(example.query) & self.word_golds.keys():
            golds = self.word_golds[word]
            total = sum(golds.values())
            for label, n in golds.items():
                votes[label] += n / total
        return _first_of_most(votes, self.spec) if votes else self.fallback


def bm25_ranking(items: list[str], query: str) -> list[int]:
    """Item indices by BM25Okapi over whitespace tokens, best first, in rank_bm25's get_top_n order (LaMP's)."""
    from rank_bm25 import BM25Okapi

    corpus = [text.split() for text in items]
    if not any(corpus):  # BM25Okapi divides by the mean document length: keep profile order, as the engine does
        return list(range(len(corpus)))
    return [int(i) for i in BM25Okapi(corpus).get_top_n(query.split(), list(range(len(corpus))), n=len(corpus))]


def retrieved_label(example: Example, task: str | TaskSpec, rank: Ranker = bm25_ranking) -> str:
    """The label of the history item ranked first for the query (LaMP's retrieval query and item text)."""
    spec = get_task(task)
    if not example.profile:
        return ""
    order = rank([spec.retrieval_text(item) for item in example.profile], spec.retrieval_query(example.input))
    return item_label(example.profile[order[0]], spec)
