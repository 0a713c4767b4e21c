"""Shared test setup: offline hub, quiet loads, hand-written LaMP fixtures and the two real models."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

# Set before anything imports huggingface_hub / transformers: a hub name must fail at once, loads stay quiet.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
# One converted-model cache for the whole session (the default unless the caller chose one):
# the 500 MB fp32 conversion of the packaged GGUF happens once, not per test.
os.environ.setdefault("MINIPPLUG_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "minipplug"))


L2_INSTR = (
    "Which tag does this movie relate to among the following tags? Just answer with the tag name without further "
    "explanation. tags: [sci-fi, based on a book, comedy, action, twist ending, dystopia, dark comedy, classic, "
    "psychology, fantasy, romance, thought-provoking, social commentary, violence, true story] description: "
)
L2N_INSTR = (
    "Which category does this article relate to among the following categories? Just answer with the category name "
    "without further explanation. categories: [food & drink, sports, education, parents, religion, travel, business, "
    "crime, science & technology, culture & arts, entertainment, politics, women, style & beauty, healthy living] "
    "article: "
)
L3_INSTR = (
    "What is the score of the following review on a scale of 1 to 5? just answer with 1, 2, 3, 4, or 5 without "
    "further explanation. review: "
)

# Hand-written LaMP files per task: (questions, outputs). Tests state their expectations literally.
FIXTURES: dict[str, tuple[list[dict], dict]] = {
    "LaMP_1": (
        [
            {
                "id": "100",
                "user_id": "a1",
                "input": 'For an author who has written the paper with the title "Learning to Rank for Users", '
                "which reference is related? Just answer with [1] or [2] without explanation. "
                '[1]: "Deep Ranking Models" [2]: "A History of Bridges"',
                "profile": [
                    {"id": "p1", "title": "Neural Ranking", "abstract": "We rank documents."},
                    {"id": "p2", "title": "User Models", "abstract": "We model users.", "date": "2019"},
                ],
            },
            {
                "id": "101",
                "user_id": "a1",
                "input": 'For an author who has written the paper with the title "Query Logs", which reference is '
                'related? Just answer with [1] or [2] without explanation. [1]: "Roman Roads" [2]: "Click Models"',
                "profile": [{"id": "p1", "title": "Neural Ranking", "abstract": "We rank documents."}],
            },
        ],
        {"task": "LaMP_1", "golds": [{"id": "100", "output": "[1]"}, {"id": "101", "output": "[2]"}]},
    ),
    "LaMP_2": (
        [
            {
                "id": "200",
                "user_id": "u7",
                "input": L2_INSTR + "A robot learns to love.",
                "profile": [
                    {"id": "m1", "description": "Ships fight in space.", "tag": "sci-fi", "date": "2001-02-03"},
                    {"id": "m2", "description": "A wizard school.", "tag": "fantasy", "rating": 5},
                ],
                "extra_field": {"ignored": True},
            },
            {"id": "201", "user_id": "u8", "input": L2_INSTR + "Two friends, one dog.", "profile": []},
        ],
        {
            "task": "LaMP_2",
            "golds": [{"id": "200", "output": "sci-fi"}, {"id": "201", "output": "comedy"}],
            "note": "unknown top-level field",
        },
    ),
    "LaMP_2N": (
        [
            {
                "id": "250",
                "input": L2N_INSTR + "Local team wins the cup.",
                "profile": [
                    {"id": "n1", "text": "Prices rise again.", "title": "Markets", "category": "business"},
                    {"id": "n2", "text": "New pasta bar.", "title": "Eat out", "category": "food & drink"},
                    {"id": "n3", "text": "Vote counted.", "title": "Election", "category": "politics"},
                ],
            },
            {
                "id": "251",
                "input": L2N_INSTR + "A new school opens.",
                "profile": [{"id": "n1", "text": "Prices rise again.", "title": "Markets", "category": "business"}],
            },
        ],
        {"task": "LaMP_2N", "golds": [{"id": "250", "output": "sports"}, {"id": "251", "output": "education"}]},
    ),
    "LaMP_3": (
        [
            {
                "id": "300",
                "user_id": "r1",
                "input": L3_INSTR + "Works fine, a bit loud.",
                "profile": [
                    {"id": "s1", "text": "Great kettle.", "score": 5},
                    {"id": "s2", "text": "Broke in a week.", "score": "2"},
                    {"id": "s3", "text": "Okay lamp.", "score": " 3 "},
                ],
            },
            {
                "id": "301",
                "user_id": "r2",
                "input": L3_INSTR + "Terrible.",
                "profile": [{"id": "s4", "text": "Fine mug.", "score": 4}],
            },
        ],
        # Gold outputs may be numbers too.
        {"task": "LaMP_3", "golds": [{"id": "300", "output": "4"}, {"id": "301", "output": 1}]},
    ),
    "LaMP_4": (
        [
            {
                "id": "400",
                "input": "Generate a headline for the following article: The bridge opened on Monday.",
                "profile": [{"id": "h1", "title": "Road closed", "text": "The main road is closed."}],
            },
            {
                "id": "401",
                "input": "Generate a headline for the following article: Rain all week.",
                "profile": [
                    {"id": "h1", "title": "Road closed", "text": "The main road is closed."},
                    {"id": "h2", "title": "Sun returns", "text": "Finally some sun."},
                ],
            },
        ],
        {"task": "LaMP_4", "golds": [{"id": "400", "output": "Bridge opens"}, {"id": "401", "output": "Wet week"}]},
    ),
    "LaMP_5": (
        [
            {
                "id": "500",
                "input": "Generate a title for the following abstract of a paper: We study sparse models.",
                "profile": [{"id": "t1", "title": "Dense Models", "abstract": "We study dense models."}],
            },
            {
                "id": "501",
                "input": "Generate a title for the following abstract of a paper: A survey of graphs.",
                "profile": [],
            },
        ],
        {"task": "LaMP_5", "golds": [{"id": "500", "output": "Sparse Models"}, {"id": "501", "output": "Graphs"}]},
    ),
    "LaMP_6": (
        [
            {
                "id": "600",
                "input": "Generate a subject for the following email: Meeting moved to 3pm.",
                "profile": [{"id": "e1", "title": "Lunch", "text": "Lunch at noon?"}],
            },
            {
                "id": "601",
                "input": "Generate a subject for the following email: Report attached.",
                "profile": [{"id": "e1", "title": "Lunch", "text": "Lunch at noon?"}],
            },
        ],
        {"task": "LaMP_6", "golds": [{"id": "600", "output": "New time"}, {"id": "601", "output": "Report"}]},
    ),
    "LaMP_7": (
        [
            {
                "id": "700",
                "user_id": "w1",
                "input": "Paraphrase the following tweet without any explanation before or after it: the train is late",
                "profile": [
                    {"id": "w1-1", "text": "ok so my cat is asleep #vibes"},
                    {"id": "w1-2", "text": "ok so it rained #vibes", "date": "2020-1-2"},
                ],
            },
            {
                "id": "701",
                "user_id": "w1",
                "input": "Paraphrase the following tweet without any explanation before or after it: I baked bread",
                "profile": [{"id": "w1-1", "text": "ok so my cat is asleep #vibes"}],
            },
            {
                "id": "702",
                "user_id": "w2",
                "input": "Paraphrase the following tweet without any explanation before or after it: new bike lanes",
                "profile": [],
            },
        ],
        {
            "task": "LaMP_7",
            "golds": [
                {"id": "700", "output": "ok so the train is late #vibes"},
                {"id": "701", "output": "ok so I baked bread #vibes"},
                {"id": "702", "output": "bike lanes, yay"},
            ],
        },
    ),
}


def write_json(path: Path, obj: Any) -> Path:
    """Write ``obj`` as JSON (or a str verbatim) to ``path``; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj, indent=1), encoding="utf-8")
    return path


@pytest.fixture
def fixture_dir(tmp_path: Path) -> Path:
    """A folder holding ``<task>/dev_questions.json`` and ``<task>/dev_outputs.json`` for every LaMP task."""
    root = tmp_path / "lamp"
    for task, (questions, outputs) in FIXTURES.items():
        write_json(root / task / "dev_questions.json", questions)
        write_json(root / task / "dev_outputs.json", outputs)
    return root


@pytest.fixture
def make_file(tmp_path: Path) -> Callable[[str, Any], Path]:
    """Factory: ``make_file(name, obj)`` writes JSON (or a raw string) under tmp_path and returns its path."""
    return lambda name, obj: write_json(tmp_path / name, obj)


@pytest.fixture(scope="session", autouse=True)
def _torch_threads() -> None:
    """One intra-op thread (override: MINIPPLUG_TEST_THREADS): on 2 cores shared with other work, two spinning
    torch threads made a SmolLM2 forward 15x slower. Only touches torch if a collected test module imported it."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(os.environ.get("MINIPPLUG_TEST_THREADS", "1")))


@pytest.fixture(autouse=True)
def _no_compile(monkeypatch) -> None:
    """No torch.compile in the unit tests (MINIPPLUG_TEST_COMPILE=1 turns it on): it costs ~10 s in every
    process that trains in bf16, and the CLI tests start many; tests/engine/test_fast_step.py compiles."""
    monkeypatch.setenv("MINIPPLUG_COMPILE", os.environ.get("MINIPPLUG_TEST_COMPILE", "0"))


@pytest.fixture(scope="session")
def llm():
    """The default frozen LLM (SmolLM2-135M-Instruct from the fp32 cache), loaded once."""
    from minipplug.engine.loading import load_llm

    return load_llm()


@pytest.fixture(scope="session")
def encoder():
    """The default sentence encoder: (tokenizer, model, pooling), loaded once."""
    from minipplug.engine.loading import load_encoder

    return load_encoder()


@pytest.fixture(scope="session")
def notebook_plug() -> Path:
    """The checkpoint of the plug the notebooks share, for tests that run a notebook needing it (the browser test
    runs 05). Loaded when notebook 03 (or an earlier test run) saved one with the notebooks' settings, else trained
    now, by the function the notebooks use (course.notebook.trained_plug): any test runs alone, in any order."""
    import torch

    from minipplug.course.notebook import get_settings, trained_plug
    from minipplug.engine.stack import load_stack

    torch.set_num_threads(int(os.environ.get("MINIPPLUG_TEST_THREADS", "1")))
    settings = get_settings(seed=0)  # what the notebooks' setup(seed=0) picks in this environment
    stack = load_stack(settings.cfg)
    _, ckpt = trained_plug(stack, settings, settings.examples("train"))
    return ckpt


# ------------------------------------------------------------------------------ tiny random models
sys.path.insert(0, str(Path(__file__).resolve().parent))  # test files in sub-folders import pplug_tiny

import pplug_tiny  # noqa: E402


def _pplm(*args, **kwargs):
    from minipplug.model.injection import PPlugLM

    return PPlugLM(*args, **kwargs)


@pytest.fixture(scope="module")
def llama():
    return pplug_tiny.tiny_llama()  # SmolLM2's tokenizer (chat template), vocab 49152, width 32


@pytest.fixture(scope="module")
def plm(llama):
    return _pplm(llama, chat_template=True, max_input_tokens=256, soft_position="input")


@pytest.fixture(scope="module")
def t5plm():
    return _pplm(pplug_tiny.tiny_t5(), chat_template=True, max_input_tokens=256)
