"""The exercises' autograders (instructor/, otter-grader), proven end to end.

- every committed student version (notebooks/NN_name.ipynb and notebooks/NN_name_files/) is a fresh generation
  from instructor/source/, and holds no solution and no hidden test (06 also no output);
- every test carries its own points (partial credit), and every hidden test has a visible test of the same
  behaviour (test functions are named test_QUESTION__BEHAVIOUR, hidden ones end in __hidden...);
- every manually graded question has a rubric with partial-credit levels; the time estimates add up;
- the package ships no reference solution;
- instructor/grade.py grades a folder of submissions into a gradebook CSV and one feedback report per student,
  offline, without Docker: the blank student version scores 0, the instructor solutions score full points,
  each planted wrong answer loses only the points of the checks it breaks, a half-right answer earns part of
  its question's points, a submission that raises or loops forever is graded without stopping the others, and
  one past the per-submission time limit is killed (kernel included) with 0 points;
- instructor/release.py writes a student release in which no solution line of any source appears.

One grading run of six notebook-06 submissions is shared by its gradebook tests; lessons 01-05 are graded
on their exercise cells only (the lessons' own cells train and compare models: minutes each).
"""

from __future__ import annotations

import ast
import csv
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTOR = ROOT / "instructor"
NOTEBOOKS = ROOT / "notebooks"
STUDENT_NB = NOTEBOOKS / "06_assignments.ipynb"
STUDENT_FILES = NOTEBOOKS / "06_assignments_files"
GRADE = INSTRUCTOR / "grade.py"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"instructor_{name}", INSTRUCTOR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load("generate")
grade = _load("grade")
release = _load("release")
NAMES = generate.names()
LESSONS = [n for n in NAMES if n not in generate.OUTPUT_FREE]
QUESTIONS = {n: generate.questions(INSTRUCTOR / "source" / f"{n}.ipynb") for n in NAMES}
POINTS = {q["name"]: q["points"] for q in QUESTIONS["06_assignments"] if not q["manual"]}
FULL = sum(POINTS.values())


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A fresh `otter assign` of every source (tmp/dist/NAME) and its published student version (tmp/pub)."""
    tmp = tmp_path_factory.mktemp("generated")
    (tmp / "pub").mkdir()
    # Two `otter assign` processes at a time: each spends most of its ~9 s importing otter, on one core.
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda name: generate.otter_assign(name, tmp / "dist" / name), NAMES))
    for name in NAMES:
        generate.publish(name, tmp / "dist" / name, tmp / "pub")
    return tmp


def _autograder(generated: Path, name: str) -> Path:
    return generated / "dist" / name / "autograder" / "autograder.zip"


# ---- the student versions ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_committed_student_version_is_a_fresh_generation(generated, name):
    assert generate.differences(name, generated / "pub", NOTEBOOKS) == [], "run: python instructor/generate.py"


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _answer_cells(path: Path) -> list[dict]:
    return [c for c in _cells(path) if "otter_answer_cell" in c.get("metadata", {}).get("tags", [])]


MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN TESTS", "BEGIN TEST CONFIG", "hidden: true", "hidden=True")
MARKERS += ("Model answer", "Rubric", "ASSIGNMENT CONFIG", "# SOLUTION")


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_holds_only_stubs_and_blanks(name):
    path = NOTEBOOKS / f"{name}.ipynb"
    text = path.read_text(encoding="utf-8")
    for marker in MARKERS:
        assert marker not in text, f"{path.name} contains {marker!r}"
    for cell in _answer_cells(path):
        if cell["cell_type"] != "code":
            continue
        for node in ast.parse("".join(cell["source"])).body:
            if isinstance(node, ast.FunctionDef):  # a stub: the docstring, then `raise NotImplementedError(...)`
                assert len(node.body) == 2 and isinstance(node.body[1], ast.Raise), f"{node.name} is not a stub"
                assert "NotImplementedError" in ast.unparse(node.body[1])
            elif isinstance(node, ast.Assign):  # a concept check: `answer = ...`
                assert isinstance(node.value, ast.Constant) and node.value.value is Ellipsis, ast.unparse(node)
            else:
                assert isinstance(node, (ast.Import, ast.ImportFrom, ast.If)), f"{path.name}: {ast.unparse(node)}"


def test_the_assignment_is_handed_out_blank_and_the_lessons_with_their_outputs():
    cells = _cells(STUDENT_NB)
    functions = [
        node.name
        for cell in _answer_cells(STUDENT_NB)
        if cell["cell_type"] == "code"
        for node in ast.parse("".join(cell["source"])).body
        if isinstance(node, ast.FunctionDef)
    ]
    assert functions == [
        "attention_weights",
        "make_projector",
        "median_token_norm",
        "scale_to_norm",
        "build_batch",
        "answer_loss",
        "train_step",
        "measure_personalization",
    ]
    assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code"), "no outputs in notebook 06"
    for name in LESSONS:
        code = [c for c in _cells(NOTEBOOKS / f"{name}.ipynb") if c["cell_type"] == "code"]
        checked = [c for c in code if "# NBVAL_CHECK_OUTPUT" in "".join(c["source"])]
        assert all(c.get("outputs") for c in checked), f"{name}: run python instructor/generate.py (outputs)"


def _test_functions(source: str) -> list[tuple[str, bool, float | None]]:
    """(name, hidden, points) of each test case of an otter test file, in order."""
    out = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.decorator_list:
            kw = {k.arg: ast.literal_eval(k.value) for k in node.decorator_list[0].keywords}
            out.append((node.name, kw["hidden"], kw["points"]))
    return out


def _behaviour(test_name: str) -> str:
    """test_q1__empty_history__hidden -> empty_history: the behaviour a test checks."""
    return test_name.split("__")[1]


@pytest.mark.parametrize("name", NAMES)
def test_every_hidden_test_has_a_visible_test_of_the_same_behaviour(generated, name):
    visible_files = {p.stem: p.read_text() for p in (NOTEBOOKS / f"{name}_files" / "tests").glob("q*.py")}
    with zipfile.ZipFile(_autograder(generated, name)) as z:
        full = {Path(n).stem: z.read(n).decode() for n in z.namelist() if re.fullmatch(r"tests/q\w*\.py", n)}
    auto = {q["name"]: q["points"] for q in QUESTIONS[name] if not q["manual"]}
    assert sorted(full) == sorted(visible_files) == sorted(auto)
    for q, src in full.items():
        cases = _test_functions(src)
        assert all("__" in n and n.startswith(f"test_{q}__") for n, _, _ in cases), f"{q}: test_{q}__BEHAVIOUR"
        visible = {_behaviour(n) for n, hidden, _ in cases if not hidden}
        hidden = {_behaviour(n) for n, hidden, _ in cases if hidden}
        assert hidden <= visible, f"{name} {q}: hidden behaviours without a visible test: {hidden - visible}"
        assert all(n.endswith("__hidden") or "__hidden_" in n for n, h, _ in cases if h), "hidden tests say so"
        # partial credit: every case has its own points, and they add up to the question's
        assert all(p is not None and p > 0 for _, _, p in cases), f"{q}: points per test case"
        assert abs(sum(p for _, _, p in cases) - auto[q]) < 1e-9 and "all_or_nothing" not in src
        assert [c[0] for c in _test_functions(visible_files[q])] == [n for n, h, _ in cases if not h]


def _markdown(name: str) -> list[str]:
    return [
        "".join(c["source"]) for c in _cells(INSTRUCTOR / "source" / f"{name}.ipynb") if c["cell_type"] == "markdown"
    ]


@pytest.mark.parametrize("name", NAMES)
def test_every_manual_question_has_a_rubric_with_partial_credit_levels(name):
    manual = [q for q in QUESTIONS[name] if q["manual"]]
    rubrics = [m for m in _markdown(name) if "**Rubric" in m]
    assert len(rubrics) == len(manual)
    for q, rubric in zip(manual, rubrics):
        assert f"({q['points']:g} point" in rubric, f"{name} {q['name']}: the rubric states the question's points"
        levels = {float(x) for x in re.findall(r"\| (\d+(?:\.\d+)?) \|", rubric)}
        assert {0.0} < levels and any(0 < v < q["points"] for v in levels), f"{name} {q['name']}: partial levels"
    assert name != "05_embeddings" or any(q["points"] >= 4 for q in manual), "05 holds the mini project"


def _minutes(text: str) -> int:
    m = re.search(r"about (\d+) (minutes|hours?)", text)
    return int(m.group(1)) * (60 if m.group(2).startswith("hour") else 1)


@pytest.mark.parametrize("name", NAMES)
def test_every_question_states_difficulty_importance_time_and_the_times_add_up(name):
    prompts = [m for m in _markdown(name) if re.match(r"#+ (Exercise \d|Task \d|Mini project)", m)]
    assert len(prompts) == len(QUESTIONS[name])
    for p in prompts:
        assert "**Difficulty:**" in p and "**Importance:**" in p and "**Time:** about" in p, p[:80]
        assert "*Hint" not in p or "<details><summary>Hint</summary>" in p, "hints are folded away"
    times = [_minutes(p.split("**Time:**")[1]) for p in prompts]
    if name == "06_assignments":
        header = next(m for m in _markdown(name) if m.startswith("[![Open In Colab]"))
        h, m = map(int, re.search(r"working\ntime about (\d+) h (\d+) min", header).groups())
        assert 60 * h + m == sum(times), f"the header says {h} h {m} min, the tasks add up to {sum(times)} min"
    else:
        intro = next(m for m in _markdown(name) if m.startswith("## Exercises"))
        stated = int(re.search(r"about (\d+) minutes in all", intro).group(1))
        assert stated == sum(t for p, t in zip(prompts, times) if not p.startswith("### Mini project"))


def test_the_package_ships_no_reference_solution():
    spec = importlib.util.find_spec("minipplug")
    pkg = Path(list(spec.submodule_search_locations)[0])
    assert importlib.util.find_spec("minipplug.assignment_solutions") is None
    names = ["measure_personalization", "make_projector", "median_token_norm", "scale_to_norm", "build_batch"]
    names += ["answer_loss", "train_step(llm, plug", "majority_vote", "rule_accuracy", "topk_weights"]
    names += ["flip_rate", "copy_top1", "attention_change"]
    for path in pkg.rglob("*.py"):
        src = path.read_text(encoding="utf-8")
        for fn in names:
            assert f"def {fn}" not in src, f"{path} defines {fn}: solutions stay in instructor/source/"


# ---- grading a folder of submissions ----------------------------------------------------------------------
def _edit(nb: dict, old: str, new: str) -> dict:
    """Replace one exact snippet in one code cell of a copy of ``nb``."""
    nb = json.loads(json.dumps(nb))
    hits = [c for c in nb["cells"] if c["cell_type"] == "code" and old in "".join(c["source"])]
    assert len(hits) == 1, f"snippet found in {len(hits)} cells: {old!r}"
    hits[0]["source"] = "".join(hits[0]["source"]).replace(old, new, 1)
    return nb


def _grade(subs: Path, autograder: Path, timeout: int = 300, env: dict | None = None, jobs: int = 1) -> dict[str, dict]:
    """Run grade.py on a folder; returns {submission stem: gradebook row}."""
    out = subs / "gradebook.csv"
    args = [sys.executable, str(GRADE), str(subs), "-a", str(autograder), "-o", str(out), "--timeout", str(timeout)]
    args += ["-j", str(jobs)]
    start = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, timeout=1500, env=env)
    print(proc.stdout, proc.stderr, f"grading took {time.monotonic() - start:.0f} s", sep="\n")
    assert proc.returncode == 0, proc.stderr
    with open(out, newline="") as f:
        return {Path(r["file"]).stem: r for r in csv.DictReader(f)}


# One typical mistake per task, all planted in one submission: each loses only the points of the checks it
# breaks (every check has its own points), and no task's mistake costs another task anything.
WRONG = {
    "q1": (  # forgets the temperature: the two values-and-temperature checks fail (0.25 + 0.5)
        'scores = torch.einsum("bd,bnd->bn", query, history) / temperature',
        'scores = torch.einsum("bd,bnd->bn", query, history)',
        1.25,
    ),
    "q2": ("return x * (target / norm.clamp_min(1e-12))", "return x * (target / norm)", 1.25),  # zero -> NaN
    "q3": (  # the loss forgets the shift: the two loss checks fail, the layout is right (1.5 of 3)
        'F.cross_entropy(logits[:, :-1].flatten(0, 1), batch["labels"][:, 1:].flatten(), ignore_index=-100)',
        'F.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(), ignore_index=-100)',
        1.5,
    ),
    "q4": ("    llm.requires_grad_(False)\n", "", 1.5),  # the frozen LLM collects gradients: the two no-grad checks
    "q5": (  # hides the items, not the mask: every values check fails, the return type is right
        '"hidden": (data["history"], torch.zeros_like(data["mask"])),',
        '"hidden": (torch.zeros_like(data["history"]), data["mask"]),',
        0.5,
    ),
}
# Half right: the attention without the empty-history repair (NaN rows) earns the other checks' points.
HALF = (
    "    return torch.where(mask.bool().any(-1, keepdim=True), weights, torch.zeros_like(weights))\n",
    "    return weights\n",
    {"q1": 1.25},
)


@pytest.fixture(scope="module")
def gradebook(generated, tmp_path_factory) -> dict[str, dict]:
    subs = tmp_path_factory.mktemp("submissions")
    dist = generated / "dist" / "06_assignments"
    solution = json.loads((dist / "autograder" / "06_assignments.ipynb").read_text())
    wrong = solution
    for old, new, _ in WRONG.values():
        wrong = _edit(wrong, old, new)
    notebooks = {
        "blank": json.loads((generated / "pub" / "06_assignments.ipynb").read_text()),
        "solution": solution,
        "wrong": wrong,
        "half": _edit(solution, *HALF[:2]),
        # raises at the top of Task 3's cell: build_batch and answer_loss are never defined
        "raises": _edit(solution, "def build_batch(", "import a_module_that_does_not_exist\n\n\ndef build_batch("),
        # train_step never returns: each call is stopped by the time limit, only Task 4 is lost
        "loops": _edit(solution, "    llm.requires_grad_(False)\n", "    while True:\n        pass\n"),
    }
    for name, nb in notebooks.items():
        (subs / f"{name}.ipynb").write_text(json.dumps(nb))
    rows = _grade(subs, _autograder(generated, "06_assignments"), jobs=3)  # -j as instructors run it
    rows["_folder"] = subs
    return rows


def _scores(row: dict, points: dict = POINTS) -> dict[str, float]:
    return {q: float(row[q]) for q in points}


def test_gradebook_has_one_row_per_submission_and_its_columns(gradebook):
    assert sorted(k for k in gradebook if k != "_folder") == sorted(
        ["blank", "solution", "wrong", "half", "raises", "loops"]
    )
    row = gradebook["solution"]
    assert list(row) == ["file", *POINTS, "total", "possible", "q6 (manual)", "status", "seconds"]
    assert all(r["status"] == "ok" and float(r["possible"]) == FULL for k, r in gradebook.items() if k != "_folder")


def test_blank_student_version_scores_zero(gradebook):
    assert float(gradebook["blank"]["total"]) == 0 and set(_scores(gradebook["blank"]).values()) == {0.0}


def test_instructor_solutions_score_full_points(gradebook):
    assert _scores(gradebook["solution"]) == {q: float(p) for q, p in POINTS.items()}
    assert float(gradebook["solution"]["total"]) == FULL


def test_each_wrong_answer_loses_only_the_points_of_its_checks(gradebook):
    assert _scores(gradebook["wrong"]) == {q: WRONG[q][2] for q in POINTS}
    assert all(0 < WRONG[q][2] < POINTS[q] for q in POINTS), "each mistake costs part of its task, not all"


def test_a_half_right_answer_earns_partial_credit(gradebook):
    assert _scores(gradebook["half"]) == {q: float(HALF[2].get(q, p)) for q, p in POINTS.items()}


def test_a_raising_submission_is_graded_past_the_error(gradebook):
    assert _scores(gradebook["raises"]) == {q: (0.0 if q == "q3" else float(p)) for q, p in POINTS.items()}


def test_a_looping_submission_is_stopped_and_graded(gradebook):
    row = gradebook["loops"]
    assert _scores(row) == {q: (0.0 if q == "q4" else float(p)) for q, p in POINTS.items()}
    assert row["status"] == "ok"


def test_every_submission_finishes_inside_the_time_limit_with_its_time_recorded(gradebook):
    # Behaviour, not speed: no submission (the looping one included: its cell is interrupted) reaches the
    # per-submission time-out, and each row records how long grading took as a finite number of seconds.
    rows = {name: r for name, r in gradebook.items() if name != "_folder"}
    assert {name: r["status"] for name, r in rows.items()} == {name: "ok" for name in rows}
    seconds = [float(r["seconds"]) for r in rows.values()]
    assert all(0 <= s < float("inf") for s in seconds), seconds


def test_each_student_gets_a_feedback_report_of_every_check(gradebook, generated):
    folder = gradebook["_folder"] / "gradebook_feedback"
    assert sorted(p.stem for p in folder.glob("*.md")) == sorted(k for k in gradebook if k != "_folder")
    report = (folder / "wrong.md").read_text()
    with zipfile.ZipFile(_autograder(generated, "06_assignments")) as z:
        cases = {
            Path(n).stem: _test_functions(z.read(n).decode()) for n in z.namelist() if re.fullmatch(r"tests/q\d\.py", n)
        }
    for q, checks in cases.items():
        assert f"## {q}: {WRONG[q][2]:g} / {POINTS[q]:g} points" in report
        for check, hidden, points in checks:
            line = next(x for x in report.splitlines() if f"`{check}`" in x)
            assert ("(hidden)" in line) == hidden and f"/ {points:g}" in line
    # the broken checks say why; the others passed
    line = next(x for x in report.splitlines() if "`test_q4__no_llm_grads`" in x)
    assert line.startswith("- FAILED") and "collected a gradient" in line
    assert next(x for x in report.splitlines() if "`test_q4__exact_update`" in x).startswith("- passed")
    assert (
        "q6 (graded by hand, 1 points)" in report and f"**{float(gradebook['wrong']['total']):g} / {FULL:g}**" in report
    )


def test_a_submission_past_the_time_limit_is_killed_with_its_kernel(generated, tmp_path):
    psutil = pytest.importorskip("psutil")
    nb = json.loads((generated / "pub" / "06_assignments.ipynb").read_text())
    nb = _edit(nb, "grader = otter.Notebook(", "while True:\n    pass\ngrader = otter.Notebook(")
    (tmp_path / "stuck.ipynb").write_text(json.dumps(nb))
    tag = uuid.uuid4().hex
    env = dict(os.environ, MINIPPLUG_GRADING_TEST=tag)  # inherited by the kernel: find it afterwards
    (row,) = _grade(tmp_path, _autograder(generated, "06_assignments"), timeout=15, env=env).values()
    assert row["status"] == "timeout" and float(row["total"]) == 0
    leftovers = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("MINIPPLUG_GRADING_TEST") == tag:
                leftovers.append(p.cmdline())
        except (psutil.Error, OSError):
            pass
    assert not leftovers, f"processes left running: {leftovers}"


# ---- the lessons' exercises --------------------------------------------------------------------------------
def _exercise_cells(nb: dict) -> dict:
    """The notebook reduced to its exercises: the grader's set-up, the answer cells and the checks. The lesson's
    other cells load and train models (minutes); the exercises' tests bring their own data."""
    keep = []
    for cell in nb["cells"]:
        src, tags = "".join(cell["source"]), cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "code" and (
            "otter.Notebook(" in src
            or "grader.check(" in src
            or {"otter_answer_cell", "otter_assign_solution_cell"} & set(tags)
        ):
            keep.append(cell)
    return {**nb, "cells": keep}


# Per lesson: planted mistakes (one wrong, one half right, in one submission) and the scores they must get.
LESSON_MISTAKES = {
    "01_data": (
        [("for tag in reversed(tags):", "for tag in tags:"), ('prediction = "c"', 'prediction = "a"')],
        {"q1": 1.5, "q2": 1.0, "q3": 0.0},
    ),  # ties broken by the oldest tag; a wrong prediction
    "02_plug_anatomy": (
        [
            (
                "    return torch.where(keep.any(-1, keepdim=True), weights, torch.zeros_like(weights))\n",
                "    return weights\n",
            ),
            ('small_tau = "b"', 'small_tau = "a"'),
        ],
        {"q1": 1.5, "q2": 0.5},
    ),  # NaN rows for empty histories; one of two predictions wrong
    "03_training": ([("shared = a.keys() & b.keys()", "shared = a.keys() | b.keys()")], {"q1": 1.0, "q3": 0.5}),
    "04_baselines": (
        [("return profile[ranked[0]][field]", 'return profile[ranked[0]]["tag"]')],
        {"q1": 0.5, "q2": 1.0},
    ),
    "05_embeddings": ([("np.abs(diff).argmax()", "diff.argmax()")], {"q1": 1.0, "q2": 1.0}),  # misses the drops
}


@pytest.mark.parametrize("name", LESSONS)
def test_a_lessons_exercises_grade_blank_zero_solution_full_and_mistakes_partially(generated, tmp_path, name):
    dist = generated / "dist" / name
    solution = _exercise_cells(json.loads((dist / "autograder" / f"{name}.ipynb").read_text()))
    mixed = solution
    for old, new in LESSON_MISTAKES[name][0]:
        mixed = _edit(mixed, old, new)
    subs = {"blank": _exercise_cells(json.loads((generated / "pub" / f"{name}.ipynb").read_text()))}
    subs.update(solution=solution, mixed=mixed)
    for sub, nb in subs.items():
        (tmp_path / f"{sub}.ipynb").write_text(json.dumps(nb))
    rows = _grade(tmp_path, _autograder(generated, name), timeout=120, jobs=3)  # three kernels: mostly start-up
    auto = {q["name"]: float(q["points"]) for q in QUESTIONS[name] if not q["manual"]}
    assert all(r["status"] == "ok" for r in rows.values())
    assert _scores(rows["blank"], auto) == {q: 0.0 for q in auto}
    assert _scores(rows["solution"], auto) == auto
    assert _scores(rows["mixed"], auto) == LESSON_MISTAKES[name][1]
    manual = [q["name"] for q in QUESTIONS[name] if q["manual"]]
    assert [c for c in rows["solution"] if c.endswith("(manual)")] == [f"{q} (manual)" for q in manual]


# ---- the release -------------------------------------------------------------------------------------------
def _secret_lines(cells: list[dict]) -> set[str]:
    """The lines of one source that students never get: solution code, model answers, hidden tests."""
    secret: set[str] = set()
    block = None
    for cell in cells:
        text = "".join(cell["source"])
        if cell["cell_type"] == "raw":
            block = {"# BEGIN SOLUTION": "solution", "# BEGIN TESTS": "tests"}.get(text.strip(), block)
            block = None if text.startswith(("# END SOLUTION", "# END TESTS")) else block
        elif block == "solution" and cell["cell_type"] == "markdown":
            secret |= set(text.splitlines())  # a model answer and its rubric
        elif block == "solution":
            lines = text.splitlines()
            starts = [i for i, line in enumerate(lines) if "BEGIN SOLUTION NO PROMPT" in line]
            ends = [i for i, line in enumerate(lines) if "END SOLUTION" in line]
            for i, j in zip(starts, ends):
                secret |= set(lines[i + 1 : j])
            secret |= {line.split("# SOLUTION")[0] for line in lines if line.rstrip().endswith("# SOLUTION")}
        elif block == "tests" and "hidden: true" in text:
            secret |= set(text.splitlines())
    return {line.strip() for line in secret}


def _solution_lines(pub: Path) -> set[str]:
    """Every source's secret lines, less those that otter's fresh student version (``pub``) holds by design (a
    visible test's own `g = torch.Generator().manual_seed(1)`, in any notebook) and lines too short to tell."""
    # the package is the lessons' subject and ships on purpose (06's checks refuse it as a shortcut): a line of
    # its own code (e.g. `mask[b, start:] = 1` in left padding) is no leak; its functions are checked by name
    shown = {x.strip() for p in (ROOT / "minipplug").rglob("*.py") for x in p.read_text().splitlines()}
    for name in NAMES:
        shown |= {x.strip() for p in (pub / f"{name}_files").rglob("*.py") for x in p.read_text().splitlines()}
        shown |= {x.strip() for c in _cells(pub / f"{name}.ipynb") for x in "".join(c["source"]).splitlines()}
    secret: set[str] = set()
    for src in sorted((INSTRUCTOR / "source").glob("*.ipynb")):
        secret |= {x for x in _secret_lines(_cells(src)) if len(x) >= 20 and re.search(r"\w", x) and x not in shown}
    return secret


def test_the_release_holds_no_solution_no_hidden_test_and_no_instructor_file(generated, tmp_path):
    out = tmp_path / "release"
    proc = subprocess.run([sys.executable, str(INSTRUCTOR / "release.py"), str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    rel = {p.relative_to(out).as_posix() for p in files}
    assert not any(r.startswith("instructor/") or r.startswith("tests/test_grading") for r in rel)
    for must in ("minipplug/__init__.py", "pyproject.toml", "notebooks/06_assignments.ipynb"):
        assert must in rel
    assert {f"notebooks/{n}_files/tests/q1.py" for n in NAMES} <= rel, "the visible tests ship"
    secrets = _solution_lines(generated / "pub")
    assert len(secrets) > 100, "the scan must know the solutions"
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = {line.strip() for line in text.splitlines()}
        if path.suffix == ".ipynb":  # a notebook's JSON: compare its cells' lines
            lines |= {line.strip() for c in _cells(path) for line in "".join(c["source"]).splitlines()}
        found = sorted(lines & secrets)
        assert not found, f"{path.relative_to(out)} holds solution or hidden-test lines: {found[:3]}"
    again = subprocess.run([sys.executable, str(INSTRUCTOR / "release.py"), str(out)], capture_output=True, text=True)
    assert again.returncode == 2 and "already exists" in again.stderr, "an existing folder is never overwritten"


# ---- the support code's safe call (used by every test of the assignment) ----------------------------------
def _support():
    spec = importlib.util.spec_from_file_location("pplug_course_under_test", STUDENT_FILES / "pplug_course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_tests_refuse_minipplug_as_a_shortcut():
    import torch

    import minipplug

    support = _support()
    own = getattr(minipplug, "aggregation_weights", None)
    if own is None:  # the public name is being finalized: fall back to the module that defines it
        from minipplug.model.aggregation import aggregation_weights as own

    def wrapper(query, history, mask, temperature=1.0):  # a "solution" that calls the package
        return own(query, history, mask, "attention", temperature)

    args = (torch.randn(2, 8), torch.randn(2, 5, 8), torch.ones(2, 5, dtype=torch.bool))
    for fn, reason in [(own, "is minipplug's own code"), (wrapper, "calls minipplug's own code")]:
        with pytest.raises(AssertionError, match=reason):
            support.call(fn, *args)


def test_the_tests_stop_a_function_that_never_returns():
    support = _support()

    def forever():
        while True:
            pass

    start = time.monotonic()
    with pytest.raises(TimeoutError):
        support.call(forever, seconds=0.5)
    with pytest.raises(TimeoutError, match="before"):  # the second call fails at once
        support.call(forever, seconds=0.5)
    assert time.monotonic() - start < 5
    with pytest.raises(AssertionError, match="blank stub"):
        support.call(lambda: (_ for _ in ()).throw(NotImplementedError))


def test_a_kernel_that_dies_while_starting_gets_one_more_try_and_other_errors_none(tmp_path):
    calls = []

    def flaky(submission, autograder, cell_timeout):
        calls.append(submission)
        if len(calls) == 1:
            raise RuntimeError(f"{grade.KERNEL_DIED} (3 s)")
        return {"scores": {"q1": 1.0}, "total": 1.0, "possible": 1.0, "checks": []}

    assert grade.grade_with_retry(tmp_path / "a.ipynb", tmp_path / "ag.zip", 60, grade=flaky)["total"] == 1.0
    assert len(calls) == 2

    def always_dies(submission, autograder, cell_timeout):
        calls.append(submission)
        raise RuntimeError(grade.KERNEL_DIED)

    calls.clear()
    assert grade.grade_with_retry(tmp_path / "a.ipynb", tmp_path / "ag.zip", 60, grade=always_dies)["error"].startswith(
        "RuntimeError: Kernel died"
    )
    assert len(calls) == 2  # two tries, then an error row

    def not_a_notebook(submission, autograder, cell_timeout):
        calls.append(submission)
        raise ValueError("not a notebook")

    calls.clear()
    assert grade.grade_with_retry(tmp_path / "a.ipynb", tmp_path / "ag.zip", 60, grade=not_a_notebook) == {
        "error": "ValueError: not a notebook"
    }
    assert len(calls) == 1  # the submission's own fault: no second try
