"""The LaMP tasks: labels, where the query sits in the input, and how a history item reads as text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

LAMP2_TAGS = [
    "sci-fi", "based on a book", "comedy", "action", "twist ending", "dystopia", "dark comedy", "classic",
    "psychology", "fantasy", "romance", "thought-provoking", "social commentary", "violence", "true story",
]
LAMP2N_CATEGORIES = [
    "food & drink", "sports", "education", "parents", "religion", "travel", "business", "crime",
    "science & technology", "culture & arts", "entertainment", "politics", "women", "style & beauty",
    "healthy living",
]


def _unquote(text: str) -> str:
    """Strip white space and one pair of surrounding double quotes."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    return text


@dataclass(frozen=True)
class TaskSpec:
    """What differs between LaMP tasks; everything else is shared code."""

    name: str
    kind: str  # "classification", "regression" or "generation"
    item_fields: tuple[str, ...]  # profile fields the item text needs
    query_marker: str | None  # the query is the input's text after this marker
    labels: tuple[str, ...] = ()
    max_new_tokens: int = 32

    def query(self, text: str) -> str:
        """The query part of an input (what the retriever and the input encoder read)."""
        if self.name == "LaMP_1":
            # The two reference titles are the query (as LaMP's code builds it: both titles, space-joined).
            m = re.search(r"\[1\]:(.*?)\[2\]:(.*)", text, re.S)
            if m:
                return " ".join(_unquote(part) for part in m.groups())
            return text.strip()
        if self.query_marker and self.query_marker in text:
            return text.split(self.query_marker, 1)[1].strip()
        return text.strip()

    def item_text(self, item: dict) -> str:
        """A history item as the history encoder reads it (with its tag or score, as in the paper)."""
        return _ITEM_TEXT[self.name](item)


_ITEM_TEXT: dict[str, Callable[[dict], str]] = {
    "LaMP_1": lambda it: f"{it['title']} {it['abstract']}",
    "LaMP_2": lambda it: f"{it['description']} tag: {it['tag']}",
    "LaMP_2N": lambda it: f"{it['title']} {it['text']} category: {it['category']}",
    "LaMP_3": lambda it: f"{it['text']} score: {str(it['score']).strip()}",
    "LaMP_4": lambda it: f"{it['title']} {it['text']}",
    "LaMP_5": lambda it: f"{it['title']} {it['abstract']}",
    "LaMP_6": lambda it: f"{it['title']} {it['text']}",
    "LaMP_7": lambda it: f"{it['text']}",
}

TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in [
        TaskSpec("LaMP_1", "classification", ("title", "abstract"), None, ("[1]", "[2]"), 4),
        TaskSpec("LaMP_2", "classification", ("description", "tag"), "description:", tuple(LAMP2_TAGS), 8),
        TaskSpec("LaMP_2N", "classification", ("text", "title", "category"), "article:", tuple(LAMP2N_CATEGORIES), 8),
        TaskSpec("LaMP_3", "regression", ("text", "score"), "review:", ("1", "2", "3", "4", "5"), 3),
        TaskSpec("LaMP_4", "generation", ("title", "text"), "article:", (), 32),
        TaskSpec("LaMP_5", "generation", ("title", "abstract"), "paper:", (), 32),
        TaskSpec("LaMP_6", "generation", ("title", "text"), "email:", (), 32),
        TaskSpec("LaMP_7", "generation", ("text",), "before or after it:", (), 48),
    ]
}
_ALIASES = {"LAMP_2M": "LAMP_2"}  # keys and values upper-case: compared with task.upper()


def get_task(name: str) -> TaskSpec:
    """Look a task up by name; accepts LaMP_2, LaMP-2, lamp2, LaMP_2M."""
    key = name.strip().replace("-", "_").upper()
    if not key.startswith("LAMP_") and key.startswith("LAMP"):
        key = "LAMP_" + key[4:]
    key = _ALIASES.get(key, key)
    for task in TASKS:
        if task.upper() == key:
            return TASKS[task]
    raise ValueError(f"unknown task '{name}'; known: {', '.join(TASKS)} (LaMP_2M is LaMP_2)")
