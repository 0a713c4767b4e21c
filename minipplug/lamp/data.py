"""Reading, validating and writing LaMP files (`<split>_questions.json`, `<split>_outputs.json`)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import atomic_write_text
from ..errors import InputError
from .tasks import TaskSpec, get_task
from .users import profile_users

if TYPE_CHECKING:
    import datasets


class LaMPFormatError(InputError):
    """A malformed LaMP file; the message names the file, the record and the field."""


@dataclass
class Example:
    """One LaMP question with its user's history, ready for any method."""

    id: str
    input: str  # the full input, instruction included
    query: str  # the part of the input retrieval and the input encoder read
    history: list[str]  # every profile item as text (tag/score included)
    profile: list[dict] = field(repr=False)  # the raw profile items (for retrieval templates, dates)
    target: str | None = None
    user: str | None = None


def _fail(path: Path, where: str, msg: str) -> LaMPFormatError:
    return LaMPFormatError(f"{path}: {where}: {msg}")


def _read_json(path: Path):
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LaMPFormatError(f"{path}: file not found") from None
    except OSError as e:  # a directory, no permission, ...: still one clear line, not a traceback
        raise LaMPFormatError(f"{path}: cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise LaMPFormatError(f"{path}: not UTF-8 text ({e.reason})") from None
    if not text.strip():
        raise LaMPFormatError(f"{path}: file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise LaMPFormatError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None


def _string_field(path: Path, where: str, rec: dict, key: str, allow_number: bool = False) -> str:
    if key not in rec:
        raise _fail(path, where, f"missing field '{key}'")
    value = rec[key]
    if isinstance(value, str):
        return value
    if allow_number and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise _fail(path, where, f"field '{key}' must be a string, got {type(value).__name__}")


def read_questions(path: str | os.PathLike, task: str | TaskSpec) -> list[dict]:
    """Validated question records: [{"id", "input", "profile", "user_id"?}, ...]."""
    path, spec = Path(path), get_task(task)
    data = _read_json(path)
    if not isinstance(data, list):
        raise LaMPFormatError(f"{path}: top level must be a JSON list of questions, got {type(data).__name__}")
    if not data:
        raise LaMPFormatError(f"{path}: holds no questions (empty list)")
    seen: dict[str, int] = {}
    for i, rec in enumerate(data):
        where = f"record {i}"
        if not isinstance(rec, dict):
            raise _fail(path, where, f"must be a JSON object, got {type(rec).__name__}")
        qid = _string_field(path, where, rec, "id", allow_number=True)
        if qid in seen:
            raise _fail(path, where, f"field 'id': duplicate id '{qid}' (first at record {seen[qid]})")
        seen[qid] = i
        _string_field(path, where, rec, "input")
        if "profile" not in rec:
            raise _fail(path, where, "missing field 'profile'")
        if not isinstance(rec["profile"], list):
            raise _fail(path, where, f"field 'profile' must be a list, got {type(rec['profile']).__name__}")
        for j, item in enumerate(rec["profile"]):
            _check_item(path, f"record {i}, profile item {j}", item, spec)
    return data


def _check_item(path: Path, where: str, item, spec: TaskSpec) -> None:
    """A profile item has the task's fields as strings (the numeric one may be a number, and must parse)."""
    if not isinstance(item, dict):
        raise _fail(path, where, f"must be a JSON object, got {type(item).__name__}")
    for key in spec.item_fields:
        _string_field(path, where, item, key, allow_number=(key == spec.numeric_field))
    if spec.numeric_field:
        key = spec.numeric_field
        try:
            float(str(item[key]).strip())
        except ValueError:
            raise _fail(path, where, f"field '{key}' is not a number: {item[key]!r}") from None


def check_gold(path: Path, where: str, value: str, spec: TaskSpec) -> None:
    """A gold output the task can score: a rating 1-5 for LaMP_3, one of the labels for a classification task."""
    if spec.kind == "regression":
        try:
            rating = float(value.strip())
        except ValueError:
            rating = None
        if rating is None or not 1 <= rating <= 5:  # NaN and infinities fail the comparison too
            raise _fail(path, where, f"field 'output': a {spec.name} gold must be a rating from 1 to 5, got {value!r}")
    elif spec.kind == "classification" and spec.labels and value.strip() not in spec.labels:
        shown = ", ".join(spec.labels[:6]) + (", ..." if len(spec.labels) > 6 else "")
        raise _fail(path, where, f"field 'output': {value!r} is not a {spec.name} label ({shown})")


def read_outputs(path: str | os.PathLike, task: str | TaskSpec | None = None) -> dict[str, str]:
    """Validated outputs as {id: output}. With a task, they are golds and each must be one the task can score
    (check_gold); predictions are read without it (an unscorable prediction is simply wrong)."""
    path = Path(path)
    spec = get_task(task) if task is not None else None
    data = _read_json(path)
    if not isinstance(data, dict):
        raise LaMPFormatError(
            f"{path}: top level must be a JSON object with 'task' and 'golds', got {type(data).__name__}"
        )
    if "golds" not in data:
        raise LaMPFormatError(f"{path}: missing field 'golds'")
    golds = data["golds"]
    if not isinstance(golds, list):
        raise LaMPFormatError(f"{path}: field 'golds' must be a list, got {type(golds).__name__}")
    out: dict[str, str] = {}
    for i, rec in enumerate(golds):
        where = f"golds record {i}"
        if not isinstance(rec, dict):
            raise _fail(path, where, f"must be a JSON object, got {type(rec).__name__}")
        gid = _string_field(path, where, rec, "id", allow_number=True)
        if gid in out:
            raise _fail(path, where, f"field 'id': duplicate id '{gid}'")
        out[gid] = _string_field(path, where, rec, "output", allow_number=True)
        if spec is not None:
            check_gold(path, where, out[gid], spec)
    return out


def load_examples(
    task: str | TaskSpec, questions: str | os.PathLike, outputs: str | os.PathLike | None = None
) -> list[Example]:
    """Read a questions file (and its outputs, merged by id) into Examples."""
    spec = get_task(task)
    records = read_questions(questions, spec)
    golds = read_outputs(outputs, spec) if outputs is not None else None
    if golds is not None:
        qids = [str(r["id"]) for r in records]
        missing = [q for q in qids if q not in golds]
        extra = sorted(set(golds) - set(qids))
        if missing or extra:
            detail = f"{len(missing)} question ids have no gold (first: '{missing[0]}')" if missing else ""
            if extra:
                detail += ("; " if detail else "") + f"{len(extra)} gold ids match no question (first: '{extra[0]}')"
            raise LaMPFormatError(f"{outputs}: field 'golds': ids do not match {questions}: {detail}")
    examples = []
    for rec, user in zip(records, question_users(records)):
        qid = str(rec["id"])
        examples.append(
            Example(
                id=qid,
                input=rec["input"],
                query=spec.query(rec["input"]),
                history=[spec.item_text(item) for item in rec["profile"]],
                profile=rec["profile"],
                target=golds[qid] if golds is not None else None,
                user=user,
            )
        )
    return examples


def question_users(records: list[dict]) -> list[str | None]:
    """Each question's user: its `user_id` where given, else a fingerprint of its profile (see users.py), so that
    LaMP's own files (which have no user_id) keep a user's questions together; None for an empty profile."""
    inferred = profile_users([rec["profile"] for rec in records])
    return [
        str(rec["user_id"]) if rec.get("user_id") is not None else (inf or None) for rec, inf in zip(records, inferred)
    ]


def profile_stats(task: TaskSpec, examples: list[Example]) -> dict:
    """The summary `minipplug data check` prints."""
    sizes = [len(e.history) for e in examples]
    return {
        "task": task.name,
        "examples": len(examples),
        "with_targets": sum(e.target is not None for e in examples),
        "users": len({e.user for e in examples if e.user is not None}) or None,
        "profile_items_total": sum(sizes),
        "profile_min": min(sizes),
        "profile_max": max(sizes),
        "profile_mean": round(sum(sizes) / len(sizes), 2),
    }


def write_outputs(path: str | os.PathLike, task: TaskSpec, predictions: dict[str, str]) -> None:
    """Write predictions in the official outputs format {"task", "golds": [{"id", "output"}]}."""
    doc = {"task": task.name, "golds": [{"id": k, "output": v} for k, v in predictions.items()]}
    atomic_write_text(path, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def _as_text(value) -> str | None:
    """A profile value as a string column: strings as they are, numbers as text, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return str(value) if isinstance(value, (int, float)) else json.dumps(value, ensure_ascii=False)


def to_dataset(examples: list[Example]) -> datasets.Dataset:
    """The examples as a Hugging Face `datasets.Dataset`, one row per question, columns named as Example's fields.

    `profile` is a list of structs over every key any item has (missing ones None); its values are strings, as
    LaMP mixes numbers and strings (scores), and Arrow needs one type per column.
    """
    import datasets  # imported here: only this function needs it (it does not import torch)

    keys = list(dict.fromkeys(k for e in examples for item in e.profile for k in item))
    text = datasets.Value("string")
    features = datasets.Features(
        {
            "id": text,
            "user": text,
            "input": text,
            "query": text,
            "history": [text],
            "profile": [{k: text for k in keys}],
            "target": text,
        }
    )
    columns = {
        "id": [e.id for e in examples],
        "user": [e.user for e in examples],
        "input": [e.input for e in examples],
        "query": [e.query for e in examples],
        "history": [e.history for e in examples],
        "profile": [[{k: _as_text(item.get(k)) for k in keys} for item in e.profile] for e in examples],
        "target": [e.target for e in examples],
    }
    return datasets.Dataset.from_dict(columns, features=features)


def spread(examples: list[Example], n: int) -> list[Example]:
    """The first n examples taken round-robin over users (every user's first query, then second, ...); n=0: all."""
    if not n or n >= len(examples):
        return list(examples)
    by_user: dict[str, list[Example]] = {}
    for e in examples:
        by_user.setdefault(e.user if e.user is not None else e.id, []).append(e)
    out, depth = [], 0
    while len(out) < n:
        out += [q[depth] for q in by_user.values() if depth < len(q)][: n - len(out)]
        depth += 1
    return out
