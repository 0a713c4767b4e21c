"""Users inferred from profiles when a LaMP file has no user_id (minipplug.lamp.users), and what that fixes
downstream: the validation split keeps a user's questions together, a swapped history is never the user's own."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from minipplug.engine.autostop import split_validation_users
from minipplug.engine.methods import swap_histories
from minipplug.lamp.data import load_examples
from minipplug.lamp.users import profile_users

INSTR = "Paraphrase the following tweet without any explanation before or after it: "


def item(i: str, text: str, **extra: str) -> dict:
    return {"id": i, "text": text, **extra}


def sha_name(*items: dict) -> str:
    """The expected name, written out: SHA-1 over the sorted canonical JSON lines of the items, 12 hex digits."""
    lines = sorted(json.dumps(it, sort_keys=True, ensure_ascii=False) for it in items)
    return "profile-" + hashlib.sha1("\n".join(lines).encode()).hexdigest()[:12]


def test_equal_profiles_in_any_order_are_one_user_named_by_their_items() -> None:
    a, b, c = item("1", "x"), item("2", "y"), item("3", "z")
    users = profile_users([[a, b], [b, a], [c]])
    assert users == [sha_name(a, b), sha_name(a, b), sha_name(c)]
    assert users[0] != users[2]


def test_field_order_does_not_matter_but_every_field_does() -> None:
    users = profile_users([[{"id": "1", "text": "x"}], [{"text": "x", "id": "1"}], [{"id": "9", "text": "x"}]])
    assert users[0] == users[1] != users[2]  # same text, another id: another item (LaMP_2 users share movies)


def test_an_extending_profile_joins_the_earlier_user_as_in_the_time_split() -> None:
    a, b, c, d = item("1", "a"), item("2", "b"), item("3", "c"), item("4", "d")
    # One user's questions over time: [a], [a, b], [a, b, c] (any order in the file); someone else: [d].
    users = profile_users([[a, b, c], [d], [a], [a, b]])
    assert users[0] == users[2] == users[3] == sha_name(a)  # named after the shortest (earliest) profile
    assert users[1] == sha_name(d)


def test_profiles_that_only_overlap_are_different_users() -> None:
    a, b, c = item("1", "a"), item("2", "b"), item("3", "c")
    users = profile_users([[a, b], [a, c]])  # neither holds the other: two users who share one item
    assert users[0] != users[1]


def test_names_do_not_depend_on_question_order_and_empty_profiles_name_nobody() -> None:
    a, b = item("1", "a"), item("2", "b")
    profiles = [[a, b], [], [a], [b]]
    forward = profile_users(profiles)
    assert forward[1] == ""
    assert profile_users(profiles[::-1]) == forward[::-1]
    # [a] and [b] are both held by [a, b]: one user, named after the smaller fingerprint of the two shortest.
    assert forward[0] == forward[2] == forward[3] == min(sha_name(a), sha_name(b))


def write_lamp7(folder: Path, questions: list[dict]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    q, o = folder / "dev_questions.json", folder / "dev_outputs.json"
    q.write_text(json.dumps(questions))
    o.write_text(json.dumps({"task": "LaMP_7", "golds": [{"id": r["id"], "output": "x"} for r in questions]}))
    return q, o


def users_file(folder: Path, n_users: int, per_user: int, with_user_id: bool) -> tuple[Path, Path]:
    """n_users users, each with per_user questions whose profiles grow by one item per question (the time split)."""
    questions = []
    for u in range(n_users):
        items = [item(f"u{u}-i{j}", f"tweet {j} of user {u}") for j in range(per_user + 1)]
        for q in range(per_user):
            rec = {"id": f"{u}-{q}", "input": INSTR + f"question {q}", "profile": items[: q + 1]}
            if with_user_id:
                rec["user_id"] = f"given-{u}"
            questions.append(rec)
    return write_lamp7(folder, questions)


def test_load_examples_infers_users_only_where_user_id_is_missing(tmp_path: Path) -> None:
    inferred = load_examples("LaMP_7", *users_file(tmp_path / "a", 3, 2, with_user_id=False))
    assert [e.user for e in inferred] == [
        sha_name(item(f"u{u}-i0", f"tweet 0 of user {u}")) for u in range(3) for _ in "ab"
    ]
    given = load_examples("LaMP_7", *users_file(tmp_path / "b", 3, 2, with_user_id=True))
    assert [e.user for e in given] == [f"given-{u}" for u in range(3) for _ in "ab"]
    (empty,) = load_examples("LaMP_7", *write_lamp7(tmp_path / "c", [{"id": "0", "input": INSTR + "q", "profile": []}]))
    assert empty.user is None


def test_a_users_questions_are_never_split_between_fit_and_validation(tmp_path: Path) -> None:
    examples = load_examples("LaMP_7", *users_file(tmp_path, 12, 3, with_user_id=False))
    owner = {e.id: e.id.split("-")[0] for e in examples}  # the true user, known from how the file was written
    for seed in range(10):
        fit, val = split_validation_users(examples, 0.25, seed)
        assert {owner[e.id] for e in fit}.isdisjoint({owner[e.id] for e in val}), seed
        assert len({owner[e.id] for e in val}) == 3  # a quarter of the 12 users, whole


def test_a_swapped_history_is_never_the_questions_own_users(tmp_path: Path) -> None:
    examples = load_examples("LaMP_7", *users_file(tmp_path, 4, 3, with_user_id=False))
    for seed in range(10):
        for before, after in zip(examples, swap_histories(examples, seed)):
            donors = {it["id"].split("-")[0] for it in after.profile}  # item ids read "u<user>-i<j>"
            assert donors and f"u{before.id.split('-')[0]}" not in donors, (seed, before.id)
