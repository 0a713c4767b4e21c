"""Notebook 06's autograder (instructor/, otter-grader), proven end to end.

- the committed student version (notebooks/06_assignments.ipynb and notebooks/06_assignments_files/) is a fresh
  generation from instructor/source/, and holds no solution, no hidden test and no output;
- the package ships no reference solution;
- instructor/grade.py grades a folder of submissions into a gradebook CSV, offline, without Docker: the blank
  student version scores 0, the instructor solutions score full points, one planted wrong solution per task
  loses exactly that task's points, a submission that raises or loops forever is graded without stopping the
  others, and one past the per-submission time limit is killed (kernel included) with 0 points.

One grading run of nine submissions (about 20 s each on a loaded CPU) is shared by the gradebook tests.
"""

from __future__ import annotations

import ast
import csv
import importlib.util
import json
import os
import subprocess
import sys
import time
import uuid
import zipfile
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
POINTS = grade.POINTS
FULL = sum(POINTS.values())


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, Path]:
    """A fresh `otter assign` of the source (dist) and its published student version (pub), in a temp folder."""
    tmp = tmp_path_factory.mktemp("generated")
    generate.otter_assign(tmp / "dist")
    (tmp / "pub").mkdir()
    generate.publish(tmp / "dist", tmp / "pub")
    return tmp / "dist", tmp / "pub"


# ---- the student version ----------------------------------------------------------------------------------
def test_committed_student_version_is_a_fresh_generation(generated):
    _, pub = generated
    assert generate.differences(pub, NOTEBOOKS) == [], "run: python instructor/generate.py"


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_student_notebook_holds_no_solution_no_hidden_test_no_output():
    cells = _cells(STUDENT_NB)
    text = STUDENT_NB.read_text(encoding="utf-8")
    for marker in (
        "BEGIN SOLUTION",
        "END SOLUTION",
        "BEGIN TESTS",
        "BEGIN TEST CONFIG",
        "hidden: true",
        "hidden=True",
        "Model answer",
        "ASSIGNMENT CONFIG",
        "masked_fill",
        "cumsum",
        "zero_grad",
        "torch.roll(torch.arange(U)",
    ):
        assert marker not in text, f"the student notebook contains {marker!r}"
    answer_cells = [c for c in cells if "otter_answer_cell" in c.get("metadata", {}).get("tags", [])]
    functions = []
    for cell in answer_cells:
        if cell["cell_type"] != "code":
            continue
        for node in ast.parse("".join(cell["source"])).body:
            if isinstance(node, ast.FunctionDef):
                functions.append(node.name)
                # a stub: the docstring, then `raise NotImplementedError(...)`, nothing else
                assert len(node.body) == 2 and isinstance(node.body[1], ast.Raise), f"{node.name} is not a blank stub"
                assert "NotImplementedError" in ast.unparse(node.body[1])
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
    assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code"), "no outputs in the student version"


def test_student_files_hold_only_visible_tests_and_the_autograder_the_hidden_ones(generated):
    dist, _ = generated
    visible = {p.stem: p.read_text() for p in (STUDENT_FILES / "tests").glob("q*.py")}
    assert sorted(visible) == ["q1", "q2", "q3", "q4", "q5"]
    with zipfile.ZipFile(dist / "autograder" / "autograder.zip") as z:
        full = {Path(n).stem: z.read(n).decode() for n in z.namelist() if n.startswith("tests/q")}
    assert sorted(full) == sorted(visible)
    for q, src in visible.items():
        assert "hidden=True" not in src and src.count("hidden=False") >= 1, f"{q}: visible tests only"
        n_hidden, n_visible = full[q].count("hidden=True"), full[q].count("hidden=False")
        assert n_hidden >= 1 and n_visible >= 1 and n_hidden + n_visible >= 2, f"{q}: visible and hidden tests"
        assert f"points = {POINTS[q]}" in full[q] and "all_or_nothing = True" in full[q]
    support = (STUDENT_FILES / "pplug_course.py").read_text()
    assert support == (INSTRUCTOR / "source" / "06_assignments_files" / "pplug_course.py").read_text()


def test_the_package_ships_no_reference_solution():
    spec = importlib.util.find_spec("minipplug")
    pkg = Path(list(spec.submodule_search_locations)[0])
    assert importlib.util.find_spec("minipplug.assignment_solutions") is None
    for path in pkg.rglob("*.py"):
        src = path.read_text(encoding="utf-8")
        for name in (
            "measure_personalization",
            "make_projector",
            "median_token_norm",
            "scale_to_norm",
            "build_batch",
            "answer_loss",
            "train_step(llm, plug",
        ):
            assert f"def {name}" not in src, f"{path} defines {name}: solutions stay in instructor/source/"


# ---- grading a folder of submissions ----------------------------------------------------------------------
def _edit(nb: dict, old: str, new: str) -> dict:
    """Replace one exact snippet in one code cell of a copy of ``nb``."""
    nb = json.loads(json.dumps(nb))
    hits = [c for c in nb["cells"] if c["cell_type"] == "code" and old in "".join(c["source"])]
    assert len(hits) == 1, f"snippet found in {len(hits)} cells: {old!r}"
    hits[0]["source"] = "".join(hits[0]["source"]).replace(old, new, 1)
    return nb


# One typical mistake per task; each loses exactly that task's points (the tasks are all or nothing).
WRONG = {
    "q1": (
        'scores = torch.einsum("bd,bnd->bn", query, history) / temperature',
        'scores = torch.einsum("bd,bnd->bn", query, history)',
    ),  # forgets the temperature
    "q2": ("return x * (target / norm.clamp_min(1e-12))", "return x * (target / norm)"),  # zero vector -> NaN
    "q3": (
        "position_ids = (mask.cumsum(-1) - 1).clamp_min(0)",
        "position_ids = torch.arange(L).expand(B, L)",
    ),  # positions ignore the left padding
    "q4": ("    llm.requires_grad_(False)\n", ""),  # the frozen LLM collects gradients
    "q5": (
        '"hidden": (data["history"], torch.zeros_like(data["mask"])),',
        '"hidden": (torch.zeros_like(data["history"]), data["mask"]),',
    ),  # hides the items, not the mask
}


@pytest.fixture(scope="module")
def gradebook(generated, tmp_path_factory) -> dict[str, dict]:
    dist, pub = generated
    subs = tmp_path_factory.mktemp("submissions")
    solution = json.loads((dist / "autograder" / "06_assignments.ipynb").read_text())
    notebooks = {"blank": json.loads((pub / "06_assignments.ipynb").read_text()), "solution": solution}
    for q, (old, new) in WRONG.items():
        notebooks[f"wrong_{q}"] = _edit(solution, old, new)
    # raises at the top of Task 3's cell: build_batch and answer_loss are never defined
    notebooks["raises"] = _edit(
        solution, "def build_batch(", "import a_module_that_does_not_exist\n\n\ndef build_batch("
    )
    # train_step never returns: each call is stopped by the time limit, only Task 4 is lost
    notebooks["loops"] = _edit(solution, "    llm.requires_grad_(False)\n", "    while True:\n        pass\n")
    for name, nb in notebooks.items():
        (subs / f"{name}.ipynb").write_text(json.dumps(nb))
    out = subs / "gradebook.csv"
    start = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            str(GRADE),
            str(subs),
            "-a",
            str(dist / "autograder" / "autograder.zip"),
            "-o",
            str(out),
            "--timeout",
            "300",
        ],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    print(proc.stdout, proc.stderr, f"grading took {time.monotonic() - start:.0f} s", sep="\n")
    assert proc.returncode == 0, proc.stderr
    with open(out, newline="") as f:
        return {Path(r["file"]).stem: r for r in csv.DictReader(f)}


def _scores(row: dict) -> dict[str, float]:
    return {q: float(row[q]) for q in POINTS}


def test_gradebook_has_one_row_per_submission_and_its_columns(gradebook):
    assert sorted(gradebook) == sorted(["blank", "solution", "raises", "loops", *(f"wrong_{q}" for q in WRONG)])
    row = gradebook["solution"]
    assert list(row) == ["file", *POINTS, "total", "possible", "q6 (manual)", "status", "seconds"]
    assert all(r["status"] == "ok" and float(r["possible"]) == FULL for r in gradebook.values())


def test_blank_student_version_scores_zero(gradebook):
    assert float(gradebook["blank"]["total"]) == 0 and set(_scores(gradebook["blank"]).values()) == {0.0}


def test_instructor_solutions_score_full_points(gradebook):
    assert _scores(gradebook["solution"]) == {q: float(p) for q, p in POINTS.items()}
    assert float(gradebook["solution"]["total"]) == FULL


@pytest.mark.parametrize("task", list(WRONG))
def test_a_wrong_solution_loses_exactly_its_task(gradebook, task):
    row = gradebook[f"wrong_{task}"]
    assert _scores(row) == {q: (0.0 if q == task else float(p)) for q, p in POINTS.items()}
    assert float(row["total"]) == FULL - POINTS[task]


def test_a_raising_submission_is_graded_past_the_error(gradebook):
    assert _scores(gradebook["raises"]) == {q: (0.0 if q == "q3" else float(p)) for q, p in POINTS.items()}


def test_a_looping_submission_is_stopped_and_graded(gradebook):
    row = gradebook["loops"]
    assert _scores(row) == {q: (0.0 if q == "q4" else float(p)) for q, p in POINTS.items()}
    assert row["status"] == "ok"


def test_every_submission_finishes_inside_the_time_limit_with_its_time_recorded(gradebook):
    # Behaviour, not speed: no submission (the looping one included: its cell is interrupted) reaches the
    # per-submission time-out, and each row records how long grading took as a finite number of seconds.
    assert {name: r["status"] for name, r in gradebook.items()} == {name: "ok" for name in gradebook}
    seconds = [float(r["seconds"]) for r in gradebook.values()]
    assert all(0 <= s < float("inf") for s in seconds), seconds


def test_a_submission_past_the_time_limit_is_killed_with_its_kernel(generated, tmp_path):
    psutil = pytest.importorskip("psutil")
    dist, pub = generated
    nb = json.loads((pub / "06_assignments.ipynb").read_text())
    nb = _edit(nb, "grader = otter.Notebook(", "while True:\n    pass\ngrader = otter.Notebook(")
    (tmp_path / "stuck.ipynb").write_text(json.dumps(nb))
    tag = uuid.uuid4().hex
    env = dict(os.environ, MINIPPLUG_GRADING_TEST=tag)  # inherited by the kernel: find it afterwards
    proc = subprocess.run(
        [
            sys.executable,
            str(GRADE),
            str(tmp_path / "stuck.ipynb"),
            "-o",
            str(tmp_path / "gb.csv"),
            "-a",
            str(dist / "autograder" / "autograder.zip"),
            "--timeout",
            "15",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "gb.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["status"] == "timeout" and float(row["total"]) == 0
    leftovers = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("MINIPPLUG_GRADING_TEST") == tag:
                leftovers.append(p.cmdline())
        except (psutil.Error, OSError):
            pass
    assert not leftovers, f"processes left running: {leftovers}"


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
