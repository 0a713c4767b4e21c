"""Reading, validating and writing LaMP files (minipplug.lamp.data, minipplug.lamp.tasks)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import pytest

from minipplug.lamp import data
from minipplug.lamp.data import (
    LaMPFormatError,
    atomic_write_text,
    load_examples,
    profile_stats,
    read_outputs,
    read_questions,
    write_outputs,
)
from minipplug.lamp.tasks import get_task


def by_profile(*items: dict) -> str:
    """The user a file without user_id gets: named by SHA-1 of the sorted JSON of its first profile's items."""
    lines = sorted(json.dumps(it, sort_keys=True) for it in items)
    return "profile-" + hashlib.sha1("\n".join(lines).encode()).hexdigest()[:12]


N1 = {"id": "n1", "text": "Prices rise again.", "title": "Markets", "category": "business"}
H1 = {"id": "h1", "title": "Road closed", "text": "The main road is closed."}
T1 = {"id": "t1", "title": "Dense Models", "abstract": "We study dense models."}
E1 = {"id": "e1", "title": "Lunch", "text": "Lunch at noon?"}

# (id, user, query, history, target) per question, written out by hand from conftest.FIXTURES and LAMP.md's tables.
EXPECTED: dict[str, list[tuple[str, str | None, str, list[str], str]]] = {
    "LaMP_1": [
        (
            "100",
            "a1",
            "Learning to Rank for Users",  # the plug's query: the user's own title (the PPlug authors' choice)
            ["Neural Ranking We rank documents.", "User Models We model users."],
            "[1]",
        ),
        ("101", "a1", "Query Logs", ["Neural Ranking We rank documents."], "[2]"),
    ],
    "LaMP_2": [
        (
            "200",
            "u7",
            "A robot learns to love.",
            ["Ships fight in space. tag: sci-fi", "A wizard school. tag: fantasy"],
            "sci-fi",
        ),
        ("201", "u8", "Two friends, one dog.", [], "comedy"),
    ],
    "LaMP_2N": [
        (
            "250",
            by_profile(N1),  # 251's profile is part of 250's: one user whose profile grew (the time split)
            "Local team wins the cup.",
            [
                "Markets Prices rise again. category: business",
                "Eat out New pasta bar. category: food & drink",
                "Election Vote counted. category: politics",
            ],
            "sports",
        ),
        ("251", by_profile(N1), "A new school opens.", ["Markets Prices rise again. category: business"], "education"),
    ],
    "LaMP_3": [
        (
            "300",
            "r1",
            "Works fine, a bit loud.",
            ["Great kettle. score: 5", "Broke in a week. score: 2", "Okay lamp. score: 3"],
            "4",
        ),
        ("301", "r2", "Terrible.", ["Fine mug. score: 4"], "1"),
    ],
    "LaMP_4": [
        (
            "400",
            by_profile(H1),
            "The bridge opened on Monday.",
            ["Road closed The main road is closed."],
            "Bridge opens",
        ),
        (
            "401",
            by_profile(H1),
            "Rain all week.",
            ["Road closed The main road is closed.", "Sun returns Finally some sun."],
            "Wet week",
        ),
    ],
    "LaMP_5": [
        ("500", by_profile(T1), "We study sparse models.", ["Dense Models We study dense models."], "Sparse Models"),
        ("501", None, "A survey of graphs.", [], "Graphs"),  # an empty profile names nobody,
    ],
    "LaMP_6": [
        ("600", by_profile(E1), "Meeting moved to 3pm.", ["Lunch Lunch at noon?"], "New time"),
        ("601", by_profile(E1), "Report attached.", ["Lunch Lunch at noon?"], "Report"),
    ],
    "LaMP_7": [
        (
            "700",
            "w1",
            "the train is late",
            ["ok so my cat is asleep #vibes", "ok so it rained #vibes"],
            "ok so the train is late #vibes",
        ),
        ("701", "w1", "I baked bread", ["ok so my cat is asleep #vibes"], "ok so I baked bread #vibes"),
        ("702", "w2", "new bike lanes", [], "bike lanes, yay"),
    ],
}


def _files(root: Path, task: str) -> tuple[Path, Path]:
    return root / task / "dev_questions.json", root / task / "dev_outputs.json"


def _check_examples(examples: list[data.Example], task: str, questions_file: Path) -> None:
    raw = json.loads(questions_file.read_text())
    assert [e.id for e in examples] == [r[0] for r in EXPECTED[task]]
    for ex, rec, (qid, user, query, history, target) in zip(examples, raw, EXPECTED[task]):
        assert ex.id == qid
        assert ex.user == user
        assert ex.input == rec["input"]  # the full input, instruction included, untouched
        assert ex.query == query
        assert ex.history == history
        assert ex.profile == rec["profile"]
        assert ex.target == target


@pytest.mark.parametrize("task", list(EXPECTED))
def test_every_task_reads_as_expected(fixture_dir: Path, task: str) -> None:
    """id, user, input, query, history texts and target for each LaMP task."""
    q, o = _files(fixture_dir, task)
    _check_examples(load_examples(task, q, o), task, q)


@pytest.mark.parametrize("alias", ["LaMP_2M", "LaMP-2", "lamp2", "lamp_2m"])
def test_lamp2_aliases(fixture_dir: Path, alias: str) -> None:
    """LaMP_2M and other spellings read the movie task exactly like LaMP_2."""
    assert get_task(alias).name == "LaMP_2"
    q, o = _files(fixture_dir, "LaMP_2")
    _check_examples(load_examples(alias, q, o), "LaMP_2", q)


def test_task_lookup() -> None:
    assert get_task("LaMP-2N").name == "LaMP_2N"
    assert get_task(" lamp_7 ").name == "LaMP_7"
    with pytest.raises(ValueError, match="unknown task 'LaMP_9'"):
        get_task("LaMP_9")
    assert get_task("LaMP_1").labels == ("[1]", "[2]")
    assert get_task("LaMP_3").labels == ("1", "2", "3", "4", "5")
    assert get_task("LaMP_2").labels[:3] == ("sci-fi", "based on a book", "comedy")
    assert get_task("LaMP_2").labels[-1] == "true story" and len(get_task("LaMP_2").labels) == 15
    assert get_task("LaMP_2N").labels[0] == "food & drink" and get_task("LaMP_2N").labels[-1] == "healthy living"


def test_questions_without_outputs(fixture_dir: Path) -> None:
    """Without an outputs file (the test split) targets are None."""
    q, _ = _files(fixture_dir, "LaMP_4")
    examples = load_examples("LaMP_4", q)
    assert [e.target for e in examples] == [None, None]
    assert examples[1].history == EXPECTED["LaMP_4"][1][3]


def test_numeric_ids_and_extra_fields(make_file: Callable[[str, Any], Path]) -> None:
    """Ids given as numbers become strings; unknown fields anywhere are ignored."""
    q = make_file(
        "q.json",
        [
            {
                "id": 5,
                "input": "review: ok",
                "profile": [{"id": 1, "text": "t", "score": 3.0, "helpful": [1, 2]}],
                "lang": "en",
            }
        ],
    )
    o = make_file("o.json", {"task": "LaMP_3", "golds": [{"id": "5", "output": "3", "why": None}], "meta": {}})
    (ex,) = load_examples("LaMP_3", q, o)
    assert (ex.id, ex.query, ex.history, ex.target, ex.user) == (
        "5",
        "ok",
        ["t score: 3.0"],
        "3",
        by_profile({"id": 1, "text": "t", "score": 3.0, "helpful": [1, 2]}),  # the item as written: id a number
    )


# ---------------------------------------------------------------- malformed files


def _assert_format_error(err: LaMPFormatError, path: Path, *fragments: str) -> None:
    """One line that names the file and every fragment (record index, field, ...)."""
    msg = str(err)
    assert "\n" not in msg, msg
    assert str(path) in msg, msg
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in {msg!r}"


GOOD_L2 = {"id": "a", "input": "description: x", "profile": [{"id": "p", "description": "d", "tag": "comedy"}]}

BAD_QUESTIONS: list[tuple[str, str, Any, tuple[str, ...]]] = [
    ("not json", "LaMP_2", '[{"id": "1", "input": ', ("not valid JSON", "line 1")),
    ("empty file", "LaMP_2", "", ("empty",)),
    ("blank file", "LaMP_2", "  \n", ("empty",)),
    ("top level dict", "LaMP_2", {"questions": [GOOD_L2]}, ("top level", "list")),
    ("empty list", "LaMP_2", [], ("no questions",)),
    ("record not object", "LaMP_2", [GOOD_L2, "oops"], ("record 1", "object")),
    ("missing id", "LaMP_2", [{"input": "x", "profile": []}], ("record 0", "'id'")),
    ("missing input", "LaMP_2", [GOOD_L2, {"id": "b", "profile": []}], ("record 1", "'input'")),
    ("missing profile", "LaMP_2", [{"id": "a", "input": "x"}], ("record 0", "'profile'")),
    (
        "missing tag",
        "LaMP_2",
        [
            GOOD_L2,
            {
                "id": "b",
                "input": "x",
                "profile": [{"id": "p", "description": "d", "tag": "comedy"}, {"id": "q", "description": "d"}],
            },
        ],
        ("record 1", "profile item 1", "'tag'"),
    ),
    (
        "missing category",
        "LaMP_2N",
        [{"id": "a", "input": "x", "profile": [{"id": "p", "text": "t", "title": "t"}]}],
        ("record 0", "profile item 0", "'category'"),
    ),
    ("input int", "LaMP_2", [{"id": "a", "input": 3, "profile": []}], ("record 0", "'input'", "int")),
    ("id list", "LaMP_2", [{"id": ["a"], "input": "x", "profile": []}], ("record 0", "'id'", "list")),
    (
        "profile dict",
        "LaMP_2",
        [GOOD_L2, {"id": "b", "input": "x", "profile": {"id": "p"}}],
        ("record 1", "'profile'", "list"),
    ),
    (
        "profile item not object",
        "LaMP_2",
        [{"id": "a", "input": "x", "profile": ["text"]}],
        ("record 0", "profile item 0", "object"),
    ),
    (
        "item field int",
        "LaMP_2",
        [{"id": "a", "input": "x", "profile": [{"description": 7, "tag": "comedy"}]}],
        ("record 0", "profile item 0", "'description'", "int"),
    ),
    (
        "score not numeric",
        "LaMP_3",
        [
            {
                "id": "a",
                "input": "review: x",
                "profile": [{"id": "p", "text": "t", "score": "4"}, {"id": "q", "text": "t", "score": "five"}],
            }
        ],
        ("record 0", "profile item 1", "'score'", "five"),
    ),
    (
        "score bool",
        "LaMP_3",
        [{"id": "a", "input": "x", "profile": [{"text": "t", "score": True}]}],
        ("record 0", "profile item 0", "'score'"),
    ),
    (
        "duplicate id",
        "LaMP_2",
        [GOOD_L2, {**GOOD_L2, "id": "b"}, {**GOOD_L2, "id": "a"}],
        ("record 2", "'id'", "duplicate", "'a'"),
    ),
    (
        "duplicate id number vs string",
        "LaMP_2",
        [{**GOOD_L2, "id": 7}, {**GOOD_L2, "id": "7"}],
        ("record 1", "'id'", "duplicate"),
    ),
]


@pytest.mark.parametrize("name,task,content,fragments", BAD_QUESTIONS, ids=[c[0] for c in BAD_QUESTIONS])
def test_malformed_questions(
    make_file: Callable[[str, Any], Path], name: str, task: str, content: Any, fragments: tuple[str, ...]
) -> None:
    path = make_file("dev_questions.json", content)
    with pytest.raises(LaMPFormatError) as info:
        read_questions(path, task)
    _assert_format_error(info.value, path, *fragments)
    with pytest.raises(LaMPFormatError):  # the loader reports the same problem
        load_examples(task, path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(LaMPFormatError) as info:
        read_questions(path, "LaMP_2")
    _assert_format_error(info.value, path, "not found")


def test_unreadable_paths(tmp_path: Path) -> None:
    """A folder instead of a file, or bytes that are not UTF-8, give LaMPFormatError too."""
    with pytest.raises(LaMPFormatError) as info:
        read_questions(tmp_path, "LaMP_2")
    _assert_format_error(info.value, tmp_path, "cannot read")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe[]")
    with pytest.raises(LaMPFormatError) as info:
        read_outputs(binary)
    _assert_format_error(info.value, binary, "UTF-8")


GOLD_OK = [{"id": "200", "output": "sci-fi"}, {"id": "201", "output": "comedy"}]

BAD_OUTPUTS: list[tuple[str, Any, tuple[str, ...]]] = [
    ("not json", '{"task": "LaMP_2", "golds": [', ("not valid JSON",)),
    ("empty file", "", ("empty",)),
    ("top level list", GOLD_OK, ("top level", "object")),
    ("no golds", {"task": "LaMP_2", "outputs": GOLD_OK}, ("'golds'",)),
    ("golds not list", {"task": "LaMP_2", "golds": {"200": "sci-fi"}}, ("'golds'", "list")),
    ("gold not object", {"task": "LaMP_2", "golds": [GOLD_OK[0], "comedy"]}, ("golds record 1", "object")),
    ("gold missing output", {"task": "LaMP_2", "golds": [GOLD_OK[0], {"id": "201"}]}, ("golds record 1", "'output'")),
    ("gold missing id", {"task": "LaMP_2", "golds": [{"output": "x"}]}, ("golds record 0", "'id'")),
    (
        "gold output list",
        {"task": "LaMP_2", "golds": [{"id": "200", "output": ["x"]}]},
        ("golds record 0", "'output'", "list"),
    ),
    (
        "duplicate gold id",
        {"task": "LaMP_2", "golds": [*GOLD_OK, {"id": "200", "output": "comedy"}]},
        ("golds record 2", "'id'", "duplicate", "'200'"),
    ),
]


@pytest.mark.parametrize("name,content,fragments", BAD_OUTPUTS, ids=[c[0] for c in BAD_OUTPUTS])
def test_malformed_outputs(
    fixture_dir: Path, make_file: Callable[[str, Any], Path], name: str, content: Any, fragments: tuple[str, ...]
) -> None:
    path = make_file("dev_outputs.json", content)
    with pytest.raises(LaMPFormatError) as info:
        read_outputs(path)
    _assert_format_error(info.value, path, *fragments)
    with pytest.raises(LaMPFormatError):
        load_examples("LaMP_2", _files(fixture_dir, "LaMP_2")[0], path)


@pytest.mark.parametrize(
    "golds,fragments",
    [
        ([GOLD_OK[0]], ("'golds'", "no gold", "'201'")),  # a question without gold
        ([*GOLD_OK, {"id": "999", "output": "comedy"}], ("'golds'", "match no question", "'999'")),  # an extra gold
        ([GOLD_OK[0], {"id": "999", "output": "comedy"}], ("'201'", "'999'")),  # both at once
    ],
    ids=["gold missing", "gold extra", "both"],
)
def test_outputs_ids_must_match_questions(
    fixture_dir: Path, make_file: Callable[[str, Any], Path], golds: list[dict], fragments: tuple[str, ...]
) -> None:
    questions = _files(fixture_dir, "LaMP_2")[0]
    path = make_file("dev_outputs.json", {"task": "LaMP_2", "golds": golds})
    with pytest.raises(LaMPFormatError) as info:
        load_examples("LaMP_2", questions, path)
    _assert_format_error(info.value, path, *fragments)


# ---------------------------------------------------------------- writing


def test_write_outputs_round_trip(tmp_path: Path) -> None:
    """Official format {"task", "golds": [{"id", "output"}]}, ids in order, text kept verbatim."""
    path = tmp_path / "out" / "preds.json"
    preds = {"200": "sci-fi", "201": " comedy\n", "x": "café – ünïcode"}
    write_outputs(path, get_task("LaMP-2M"), preds)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc == {
        "task": "LaMP_2",
        "golds": [
            {"id": "200", "output": "sci-fi"},
            {"id": "201", "output": " comedy\n"},
            {"id": "x", "output": "café – ünïcode"},
        ],
    }
    assert "café" in path.read_text(encoding="utf-8")  # not \u-escaped
    assert read_outputs(path) == preds
    assert os.listdir(path.parent) == ["preds.json"]  # no temp file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # usual permissions, not mkstemp's 0600


def test_write_outputs_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "preds.json"
    path.write_text("old")
    write_outputs(path, get_task("LaMP_3"), {"1": "4"})
    assert read_outputs(path) == {"1": "4"}
    assert os.listdir(tmp_path) == ["preds.json"]


def test_atomic_write_keeps_old_file_when_rename_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "preds.json"
    path.write_text("OLD CONTENT")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(data.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_outputs(path, get_task("LaMP_2"), {"200": "sci-fi"})
    assert path.read_text() == "OLD CONTENT"
    assert os.listdir(tmp_path) == ["preds.json"]


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path: Path) -> None:
    """A failure midway through writing (text that cannot be encoded) leaves the old file and no temp file."""
    path = tmp_path / "notes.txt"
    path.write_text("OLD CONTENT")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(path, "first part is fine " * 1000 + "\ud800")
    assert path.read_text() == "OLD CONTENT"
    assert os.listdir(tmp_path) == ["notes.txt"]


# ---------------------------------------------------------------- datasets and stats


def test_profile_stats(fixture_dir: Path) -> None:
    l2n = load_examples("LaMP_2N", *_files(fixture_dir, "LaMP_2N"))
    assert profile_stats(get_task("LaMP_2N"), l2n) == {
        "task": "LaMP_2N",
        "examples": 2,
        "with_targets": 2,
        "users": 1,  # no user_id: both profiles belong to one user (one extends the other)
        "profile_items_total": 4,
        "profile_min": 1,
        "profile_max": 3,
        "profile_mean": 2.0,
    }
    l7 = load_examples("LaMP_7", _files(fixture_dir, "LaMP_7")[0])  # no outputs
    assert profile_stats(get_task("lamp-7"), l7) == {
        "task": "LaMP_7",
        "examples": 3,
        "with_targets": 0,
        "users": 2,
        "profile_items_total": 3,
        "profile_min": 0,
        "profile_max": 2,
        "profile_mean": 1.0,
    }
    l3 = load_examples("LaMP_3", *_files(fixture_dir, "LaMP_3"))
    assert profile_stats(get_task("LaMP_3"), l3)["profile_mean"] == 2.0  # (3 + 1) / 2


def test_to_dataset_rows_are_the_examples(fixture_dir: Path, make_file: Callable[[str, Any], Path]) -> None:
    """One row per question with Example's fields; profile values become strings; no torch is imported."""
    q, o = _files(fixture_dir, "LaMP_2")
    examples = load_examples("LaMP_2", q, o)
    ds = data.to_dataset(examples)
    assert ds.column_names == ["id", "user", "input", "query", "history", "profile", "target"]
    assert ds.num_rows == 2 and ds["id"] == ["200", "201"] and ds["target"] == ["sci-fi", "comedy"]
    assert [tuple(r[k] for k in ("id", "user", "query", "history", "target")) for r in ds] == [
        (qid, user, query, history, target) for qid, user, query, history, target in EXPECTED["LaMP_2"]
    ]
    assert ds[0]["input"] == examples[0].input and ds[1]["profile"] == [] and ds[0]["profile"][0]["tag"] == "sci-fi"
    # A number and an unknown field: Arrow needs one type per column, so every profile value is a string (or None).
    qn = make_file(
        "q.json",
        [
            {"id": 5, "input": "review: ok", "profile": [{"id": 1, "text": "t", "score": 3.0, "helpful": [1, 2]}]},
            {"id": 6, "input": "review: so so", "profile": [{"id": "2", "text": "u", "score": "4"}]},
        ],
    )
    ds3 = data.to_dataset(load_examples("LaMP_3", qn))
    assert ds3["profile"] == [
        [{"id": "1", "text": "t", "score": "3.0", "helpful": "[1, 2]"}],
        [{"id": "2", "text": "u", "score": "4", "helpful": None}],
    ]
    assert ds3["target"] == [None, None] and ds3["user"] == [
        by_profile({"id": 1, "text": "t", "score": 3.0, "helpful": [1, 2]}),
        by_profile({"id": "2", "text": "u", "score": "4"}),
    ]
    assert data.to_dataset([]).num_rows == 0
    # The benchmark layer stays free of torch: datasets alone must not pull it in (a fresh interpreter).
    import subprocess
    import sys

    code = (
        "import sys; from minipplug.lamp.data import Example, to_dataset; "
        "to_dataset([Example('1', 'i', 'q', [], [])]); print('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


@pytest.mark.parametrize(
    "task,bad,problem",
    [
        ("LaMP_3", "five", "1 to 5"),
        ("LaMP_3", "6", "1 to 5"),
        ("LaMP_3", "nan", "1 to 5"),
        ("LaMP_3", 0, "1 to 5"),
        ("LaMP_2", "spaghetti western", "label"),
        ("LaMP_1", "[3]", "label"),
    ],
)
def test_golds_are_validated_per_task(
    fixture_dir: Path, make_file: Callable[[str, Any], Path], task: str, bad, problem: str
) -> None:
    outputs = json.loads((fixture_dir / task / "dev_outputs.json").read_text())
    outputs["golds"][1]["output"] = bad
    path = make_file("bad_outputs.json", outputs)
    with pytest.raises(LaMPFormatError) as e:
        load_examples(task, fixture_dir / task / "dev_questions.json", path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: golds record 1: field 'output'") and problem in msg
    assert read_outputs(path) is not None  # as predictions (no task) the same file reads: a bad prediction is wrong


@pytest.mark.parametrize("value", ["1", "5", " 3 ", "2.5", 4])
def test_lamp3_gold_ratings_accepted(fixture_dir: Path, make_file: Callable[[str, Any], Path], value) -> None:
    outputs = json.loads((fixture_dir / "LaMP_3" / "dev_outputs.json").read_text())
    outputs["golds"][0]["output"] = value
    path = make_file("outputs.json", outputs)
    assert len(load_examples("LaMP_3", fixture_dir / "LaMP_3" / "dev_questions.json", path)) == 2
