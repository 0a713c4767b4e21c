"""The LaMP tasks. A TaskSpec owns everything that differs between tasks; all other code reads it from here.

Per task: its kind and labels, where the query sits in the input (for the plug's input encoder, as the PPlug
authors read it, and for LaMP's retrievers), how a profile item reads for the history encoder and for a
retriever, LaMP's template for a retrieved item, how LaMP's token budget counts it and where the items go in
the prompt, the field that carries a user's persona, the (input, target) pair a profile item gives for
per-user fine-tuning, the folder of its files on LaMP's server, and the bundled sample that has its format.

The templates are byte for byte those of LaMP's prompts/prompts.py: every rendered item ends with a space
(LaMP_1's quoted title excepted), so the joints read ' , and ' and ' . '.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ..errors import InputError

LAMP2_TAGS = [
    "sci-fi",
    "based on a book",
    "comedy",
    "action",
    "twist ending",
    "dystopia",
    "dark comedy",
    "classic",
    "psychology",
    "fantasy",
    "romance",
    "thought-provoking",
    "social commentary",
    "violence",
    "true story",
]
LAMP2N_CATEGORIES = [
    "food & drink",
    "sports",
    "education",
    "parents",
    "religion",
    "travel",
    "business",
    "crime",
    "science & technology",
    "culture & arts",
    "entertainment",
    "politics",
    "women",
    "style & beauty",
    "healthy living",
]
ITEM_SEP = ", and "  # LaMP joins retrieved items with this
PATTERNS = "Following the given patterns"
# LaMP_7's budget reserves room for this text, which differs from the words its prompt then uses ("a person").
LAMP7_RESERVED = "are written by user. Following the given patterns"


def _lamp1_query(text: str) -> str | None:
    # The plug's query: the title of the user's own paper, '... with the title "T", which ...' (the text between
    # 'title "' and the next '",', as the PPlug authors' input encoder reads it).
    m = re.search(r'title "(.*?)",', text, re.S)
    return m.group(1) if m else None


def _lamp1_retrieval_query(text: str) -> str | None:
    # LaMP's retrieval query: the 2nd and 3rd quoted strings (the two references), space-joined, unstripped.
    quoted = re.findall(r'"([^"]*)"', text)
    return f"{quoted[1]} {quoted[2]}" if len(quoted) >= 3 else None


def _after_first_colon(text: str) -> str | None:
    # LaMP_6 and LaMP_7: LaMP's retrieval query is everything after the input's first colon.
    return text.split(":", 1)[1].strip() if ":" in text else None


def _splice_after_title(items: str, inp: str) -> str:
    # LaMP_1: LaMP splices the quoted titles right after the first "title" of the input:
    # '... with the title, and "T1", and "T2" "INPUT TITLE", which reference ...'.
    at = inp.find("title")
    if at == -1:  # LaMP then leaves the input as it is
        return inp
    at += len("title")
    return f"{inp[:at]}{ITEM_SEP}{items}{inp[at:]}"


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """What differs between LaMP tasks; everything else is shared code."""

    name: str
    kind: str  # "classification", "regression" or "generation"
    item_fields: tuple[str, ...]  # profile fields every item must have
    query_marker: str | None  # the query is the input's text after this marker (plug and retrievers)
    labels: tuple[str, ...] = ()
    max_new_tokens: int = 32
    history_text: Callable[[dict], str] = str  # an item as Enc_his reads it (label included, as in the paper)
    retrieval_text: Callable[[dict], str] = str  # an item as BM25 / dense retrieval match it (LaMP's fields)
    item_template: str = ""  # LaMP's template of one retrieved item in a prompt (ends with a space, as in LaMP)
    free_field: str = ""  # the long field of the template, the one the token budget cuts
    compose: Callable[[str, str], str] = lambda items, inp: f"{items}. {inp}"  # (joined items, input) -> prompt
    query_fn: Callable[[str], str | None] | None = None  # a task-specific query extractor (LaMP_1)
    retrieval_query_fn: Callable[[str], str | None] | None = None  # LaMP's retrieval query, where it differs
    # LaMP's budget: (items' budget - reserve - 2 per ", and " - tokens of budget_suffix) // k tokens per item,
    # of which an item's fixed part costs the tokens of item_cost (a template LaMP measures with " " as the free
    # text, formatted with the item) or, for LaMP_1, a constant.
    item_cost: str | int = ""
    budget_reserve: int = 1
    budget_suffix: str = ""
    numeric_field: str | None = None  # a profile field that must parse as a number (LaMP_3's score)
    persona_field: str | None = None  # the profile field whose majority value is a user's persona (plots)
    item_pair: tuple[str, str] | None = None  # (input field, target field) of an item, for per-user LoRA
    lamp_folder: str = ""  # the task's folder on LaMP's download server
    sample: str | None = None  # the bundled sample in data_samples/ with this format

    def query(self, text: str) -> str:
        """The query part of an input, as the plug's input encoder reads it (retrievers: retrieval_query)."""
        if self.query_fn is not None:
            found = self.query_fn(text)
            if found is not None:
                return found
            return text.strip()
        if self.query_marker and self.query_marker in text:
            return text.split(self.query_marker, 1)[1].strip()
        return text.strip()

    def retrieval_query(self, text: str) -> str:
        """The query LaMP's retrievers match (LaMP_1: the two references; LaMP_6/7: after the first colon)."""
        if self.retrieval_query_fn is not None:
            found = self.retrieval_query_fn(text)
            return found if found is not None else text.strip()  # LaMP would fail on such an input
        return self.query(text)

    def item_text(self, item: dict) -> str:
        """A history item as the history encoder reads it (with its tag or score, as in the paper)."""
        return self.history_text(item)


TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in [
        TaskSpec(
            name="LaMP_1",
            kind="classification",
            item_fields=("title", "abstract"),
            query_marker=None,
            labels=("[1]", "[2]"),
            max_new_tokens=4,
            history_text=lambda it: f"{it['title']} {it['abstract']}",
            retrieval_text=lambda it: f"{it['title']} {it['abstract']}",
            item_template='"{title}"',  # the one template without a trailing space
            free_field="title",
            compose=_splice_after_title,
            query_fn=_lamp1_query,
            retrieval_query_fn=_lamp1_retrieval_query,
            item_cost=2,  # the two quotes
            budget_reserve=0,
            lamp_folder="LaMP_1",
        ),
        TaskSpec(
            name="LaMP_2",
            kind="classification",
            item_fields=("description", "tag"),
            query_marker="description:",
            labels=tuple(LAMP2_TAGS),
            max_new_tokens=8,
            history_text=lambda it: f"{it['description']} tag: {it['tag']}",
            # LaMP_2 and LaMP_3 retrieve by content only, so a query is never matched on the label.
            retrieval_text=lambda it: f"{it['description']}",
            item_template='the tag for the movie: "{description}" is "{tag}" ',
            item_cost='the tag for the movie: " " is "{tag}" ',
            free_field="description",
            persona_field="tag",
            item_pair=("description", "tag"),
            lamp_folder="LaMP_2/new",  # the movie version; plain LaMP_2/ on the server is the news one (LaMP_2N)
            sample="lamp2_tags",
        ),
        TaskSpec(
            name="LaMP_2N",
            kind="classification",
            item_fields=("text", "title", "category"),
            query_marker="article:",
            labels=tuple(LAMP2N_CATEGORIES),
            max_new_tokens=8,
            history_text=lambda it: f"{it['title']} {it['text']} category: {it['category']}",
            retrieval_text=lambda it: f"{it['title']} {it['text']}",
            item_template='the category for the article: "{text}" is "{category}" ',
            item_cost='the category for the article: " " is "{category}" ',
            free_field="text",
            persona_field="category",
            item_pair=("text", "category"),
            lamp_folder="LaMP_2",
        ),
        TaskSpec(
            name="LaMP_3",
            kind="regression",
            item_fields=("text", "score"),
            query_marker="review:",
            labels=("1", "2", "3", "4", "5"),
            max_new_tokens=3,
            history_text=lambda it: f"{it['text']} score: {str(it['score']).strip()}",
            retrieval_text=lambda it: f"{it['text']}",
            item_template='{score} is the score for "{text}" ',  # the score as stored, not stripped
            item_cost='{score} is the score for " " ',
            free_field="text",
            numeric_field="score",
            persona_field="score",
            item_pair=("text", "score"),
            lamp_folder="LaMP_3",
            sample="lamp3_ratings",
        ),
        TaskSpec(
            name="LaMP_4",
            kind="generation",
            item_fields=("title", "text"),
            query_marker="article:",
            labels=(),
            max_new_tokens=32,
            history_text=lambda it: f"{it['title']} {it['text']}",
            retrieval_text=lambda it: f"{it['title']} {it['text']}",
            item_template='"{title}" is the title for "{text}" ',
            item_cost='"{title}" is the title for " " ',
            free_field="text",
            item_pair=("text", "title"),
            lamp_folder="LaMP_4",
            sample="lamp4_sotu",
        ),
        TaskSpec(
            name="LaMP_5",
            kind="generation",
            item_fields=("title", "abstract"),
            query_marker="paper:",
            labels=(),
            max_new_tokens=32,
            history_text=lambda it: f"{it['title']} {it['abstract']}",
            retrieval_text=lambda it: f"{it['title']} {it['abstract']}",
            item_template='"{title}" is a title for "{abstract}" ',
            item_cost='"{title}" is a title " " ',  # sic: LaMP measures it without the word "for"
            budget_suffix=PATTERNS,
            free_field="abstract",
            compose=lambda items, inp: f"{items}. {PATTERNS} {inp}",
            item_pair=("abstract", "title"),
            lamp_folder="LaMP_5",
        ),
        TaskSpec(
            name="LaMP_6",
            kind="generation",
            item_fields=("title", "text"),
            query_marker="email:",
            labels=(),
            max_new_tokens=32,
            history_text=lambda it: f"{it['title']} {it['text']}",
            retrieval_text=lambda it: f"{it['text']}",  # LaMP retrieves emails by their text
            item_template='"{title}" is the title for "{text}" ',
            item_cost='"{title}" is the title for " " ',
            retrieval_query_fn=_after_first_colon,
            free_field="text",  # LaMP reuses the headline one
            lamp_folder="LaMP_6",
        ),
        TaskSpec(
            name="LaMP_7",
            kind="generation",
            item_fields=("text",),
            query_marker="before or after it:",
            labels=(),
            max_new_tokens=48,
            history_text=lambda it: f"{it['text']}",
            retrieval_text=lambda it: f"{it['text']}",
            item_template='"{text}" ',
            item_cost='"" ',
            budget_suffix=LAMP7_RESERVED,
            retrieval_query_fn=_after_first_colon,
            free_field="text",
            # The last item's space and this one make two: '"t"  are written by a person.' (as in LaMP).
            compose=lambda items, inp: f"{items} are written by a person. {PATTERNS} {inp}",
            lamp_folder="LaMP_7",
            sample="lamp7_style",
        ),
    ]
}
_ALIASES = {"LAMP_2M": "LAMP_2"}  # keys and values upper-case: compared with task.upper()


def get_task(name: str | TaskSpec) -> TaskSpec:
    """Look a task up by name; accepts LaMP_2, LaMP-2, lamp2, LaMP_2M (and a TaskSpec, returned as it is)."""
    if isinstance(name, TaskSpec):
        return name
    key = name.strip().replace("-", "_").upper()
    if not key.startswith("LAMP_") and key.startswith("LAMP"):
        key = "LAMP_" + key[4:]
    key = _ALIASES.get(key, key)
    for task in TASKS:
        if task.upper() == key:
            return TASKS[task]
    raise InputError(f"unknown task '{name}'; known: {', '.join(TASKS)} (LaMP_2M is LaMP_2)")
