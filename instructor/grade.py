"""Grade a folder of submissions of one notebook into a gradebook CSV and feedback reports, offline, no Docker.

    python instructor/grade.py SUBMISSIONS_DIR [--assignment 06_assignments] [-o gradebook.csv] [--timeout 600]
                               [--cell-timeout 120] [-j 2]

Each ``*.ipynb`` in SUBMISSIONS_DIR (or each file given) is graded by otter-grader's local runner
(``otter.api.grade_submission``, the engine of ``otter run``) with the autograder that
``python instructor/generate.py`` built (instructor/dist/ASSIGNMENT/autograder/autograder.zip): the notebook is
executed top to bottom in a fresh kernel, then the visible and hidden tests run; errors in cells do not stop the
run. Every test carries its own points: a question that is partly right earns part of its points.

Every submission runs in its own process, so one that raises, loops forever or crashes its kernel cannot stop
the others: a cell that runs longer than --cell-timeout is interrupted (the run goes on with the next cell),
each call of a student's function in the tests has its own limit (pplug_course.SECONDS), and a submission
still running after --timeout is killed with its kernel and gets 0 with status ``timeout``.

The CSV has one row per submission: file, one column per autograded question, total, possible, one empty
column per manually graded question (for the instructor, with the rubric in the source notebook), status
(``ok``, ``timeout`` or ``error: ...``) and seconds. Beside it, the folder GRADEBOOK_feedback/ holds one readable
report per submission (SUBMISSION.md): every check, passed or failed, its message and its points.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import re
import sys
import tempfile
import time
import zipfile
from pathlib import Path

INSTRUCTOR = Path(__file__).resolve().parent
DIST = INSTRUCTOR / "dist"
_CTX = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")


def grade_one(submission: Path, autograder: Path, cell_timeout: int) -> dict:
    """Grade one submission in this process (the child side). Returns {question: score}, total and possible."""
    import otter.execute
    from otter.api import grade_submission
    from traitlets.config import Config

    def config_with_timeout() -> Config:
        # otter builds its ExecutePreprocessor from a fresh Config: add a per-cell limit that interrupts the
        # kernel (a cell that never ends is stopped, the next cells still run).
        c = Config()
        c.ExecutePreprocessor.timeout = cell_timeout
        c.ExecutePreprocessor.interrupt_on_timeout = True
        # a kernel on a busy machine can take over nbclient's default 60 s to start
        c.ExecutePreprocessor.startup_timeout = max(60, cell_timeout)
        return c

    otter.execute.Config = config_with_timeout
    results = grade_submission(str(submission), str(autograder), quiet=True)
    scores = {q: float(results.get_score(q)) for q in results.test_files}
    names = check_names(autograder)
    checks = [
        {
            "question": q,
            "check": names.get(q, [])[k] if k < len(names.get(q, [])) else r.test_case.name,
            "hidden": bool(r.test_case.hidden),
            "points": float(r.test_case.points),
            "passed": bool(r.passed),
            "message": "" if r.passed else _last_line(r.message),
        }
        for q, test_file in results.results.items()
        for k, r in enumerate(test_file.test_case_results)
    ]
    return {"scores": scores, "total": float(results.total), "possible": float(results.possible), "checks": checks}


def check_names(autograder: Path) -> dict[str, list[str]]:
    """Each question's test functions, in order (otter numbers its test cases; the functions name them)."""
    with zipfile.ZipFile(autograder) as z:
        files = [n for n in z.namelist() if re.fullmatch(r"tests/q\w*\.py", n)]
        return {Path(n).stem: re.findall(r"^def (test_\w+)\(", z.read(n).decode(), re.M) for n in files}


def _last_line(message: str | None) -> str:
    """The line of a failure that says what is wrong (an assertion's text, or an error's last line)."""
    lines = [line.strip() for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "failed"


def _kill_tree(pid: int) -> None:
    """Kill a process and every descendant (the Jupyter kernel runs in its own session: killpg would miss it)."""
    import psutil

    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    procs = parent.children(recursive=True) + [parent]
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)


def _child(submission: str, autograder: str, cell_timeout: int, out: str) -> None:
    """The child process: grade one submission, write the result as JSON (nothing is written on failure)."""
    os.environ.setdefault("MINIPPLUG_THREADS", "1")  # the kernel inherits this environment
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # quiet: otter's and the kernel's own output (the gradebook says what matters)
    os.dup2(devnull, 2)
    Path(out).write_text(json.dumps(grade_with_retry(Path(submission), Path(autograder), cell_timeout)))


KERNEL_DIED = "Kernel died before replying to kernel_info"


def grade_with_retry(submission: Path, autograder: Path, cell_timeout: int, grade=grade_one) -> dict:
    """grade(...)'s result, or {"error": ...}; a kernel that dies while starting gets one more try.

    Kernels started side by side (-j) on a busy machine can die before their first reply (seen once in a test run
    of three; the submission had not run a cell yet), which says nothing about the submission.
    """
    error = {}
    for _ in range(2):
        try:
            return grade(submission, autograder, cell_timeout)
        except Exception as e:  # e.g. not a notebook: this submission gets an error row, the others go on
            error = {"error": f"{type(e).__name__}: {e}"[:300]}
            if KERNEL_DIED not in str(e):
                break
    return error


def _result(out: Path, exitcode: int | None, seconds: float) -> dict:
    """The gradebook entry of a finished child."""
    if exitcode != 0 or not out.exists():
        return {
            "scores": {},
            "total": 0.0,
            "status": f"error: grading process exit code {exitcode}",
            "seconds": seconds,
        }
    result = json.loads(out.read_text())
    if "error" in result:
        return {"scores": {}, "total": 0.0, "status": f"error: {result['error']}", "seconds": seconds}
    result.update(status="ok", seconds=seconds)
    return result


def grade_all(
    subs: list[Path], autograder: Path, timeout: int, cell_timeout: int, jobs: int = 1, report=print
) -> list[dict]:
    """Grade every submission, each in its own child process with a hard time limit, ``jobs`` at a time.

    Never raises for a submission: each gets a gradebook entry (status ok, timeout or error). On Linux the
    children are forked from this process, which has imported otter once (its import is slow); elsewhere they
    are spawned. All children are started from this (the main) thread.
    """
    results: list[dict | None] = [None] * len(subs)
    pending = list(enumerate(subs))
    running: dict[int, tuple] = {}
    with tempfile.TemporaryDirectory() as tmp:
        while pending or running:
            while pending and len(running) < max(1, jobs):
                i, sub = pending.pop(0)
                out = Path(tmp) / f"{i}.json"
                proc = _CTX.Process(target=_child, args=(str(sub), str(autograder), cell_timeout, str(out)))
                proc.start()
                running[i] = (proc, out, time.monotonic())
            time.sleep(0.1)
            for i, (proc, out, start) in list(running.items()):
                seconds = time.monotonic() - start
                if proc.is_alive():
                    if seconds <= timeout:
                        continue
                    _kill_tree(proc.pid)  # with its kernel
                    proc.join()
                    results[i] = {"scores": {}, "total": 0.0, "status": "timeout", "seconds": seconds}
                else:
                    proc.join()
                    results[i] = _result(out, proc.exitcode, seconds)
                del running[i]
                r = results[i]
                report(f"{subs[i].name}: {r['total']:g} points, {r['status']} ({r['seconds']:.0f} s)")
    return results


def submissions_in(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for p in paths:
        found += sorted(p.glob("*.ipynb")) if p.is_dir() else [p]
    return found


def read_questions(autograder: Path) -> list[dict]:
    """The assignment's questions (name, points, manual), from the questions.json that generate.py wrote."""
    return json.loads((autograder.parent / "questions.json").read_text(encoding="utf-8"))


def write_gradebook(rows: list[tuple[Path, dict]], questions: list[dict], path: Path) -> None:
    """One CSV row per submission: the autograded questions' scores, total, possible, manual columns, status."""
    auto = [q["name"] for q in questions if not q["manual"]]
    manual = [q["name"] for q in questions if q["manual"]]
    possible = sum(q["points"] for q in questions if not q["manual"])
    header = ["file", *auto, "total", "possible", *(f"{q} (manual)" for q in manual), "status", "seconds"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for sub, r in rows:
            scores = [r["scores"].get(q, 0.0) for q in auto]
            w.writerow(
                [sub.name, *scores, r["total"], possible, *("" for _ in manual), r["status"], f"{r['seconds']:.1f}"]
            )


def feedback(sub: Path, r: dict, questions: list[dict]) -> str:
    """A submission's readable report: per question its score, then every check with its result and points."""
    auto = [q for q in questions if not q["manual"]]
    lines = [
        f"# Feedback: {sub.name}",
        "",
        f"Autograded: **{r['total']:g} / {sum(q['points'] for q in auto):g}** points",
    ]
    if r["status"] != "ok":
        lines += ["", f"Grading stopped: {r['status']} (every autograded question counts 0)."]
    for q in questions:
        if q["manual"]:
            lines += [
                "",
                f"## {q['name']} (graded by hand, {q['points']:g} points)",
                "",
                "Read by a person with the rubric.",
            ]
            continue
        lines += ["", f"## {q['name']}: {r['scores'].get(q['name'], 0.0):g} / {q['points']:g} points", ""]
        for c in (c for c in r.get("checks", []) if c["question"] == q["name"]):
            kind = "hidden" if c["hidden"] else "visible"
            mark = "passed" if c["passed"] else "FAILED"
            got = c["points"] if c["passed"] else 0.0
            lines.append(
                f"- {mark} `{c['check']}` ({kind}): {got:g} / {c['points']:g}"
                + (f" — {c['message']}" if c["message"] else "")
            )
    return "\n".join(lines) + "\n"


def write_feedback(rows: list[tuple[Path, dict]], questions: list[dict], folder: Path) -> None:
    """One markdown report per submission in ``folder``, each written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    for sub, r in rows:
        tmp = folder / f".{sub.stem}.md.tmp"
        tmp.write_text(feedback(sub, r, questions), encoding="utf-8")
        os.replace(tmp, folder / f"{sub.stem}.md")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("submissions", nargs="*", type=Path, help="folders of .ipynb submissions, or .ipynb files")
    ap.add_argument("--assignment", default="06_assignments", help="the notebook graded (default 06_assignments)")
    ap.add_argument(
        "-a", "--autograder", type=Path, help="otter's autograder zip (default: the assignment's, in dist/)"
    )
    ap.add_argument("-o", "--output", type=Path, default=Path("gradebook.csv"), help="the gradebook CSV")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per submission before it is killed (0 points)")
    ap.add_argument("--cell-timeout", type=int, default=120, help="seconds per notebook cell before it is interrupted")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="submissions graded at the same time (default 1)")
    args = ap.parse_args(argv)

    args.autograder = args.autograder or DIST / args.assignment / "autograder" / "autograder.zip"
    if not args.autograder.exists():
        ap.error(f"no autograder at {args.autograder}: run python instructor/generate.py first")
    subs = submissions_in(args.submissions)
    if not subs:
        ap.error("no .ipynb submissions found")
    if _CTX.get_start_method() == "fork":
        import otter.api  # noqa: F401  (once here; every forked child inherits it)
    results = grade_all(
        subs, args.autograder, args.timeout, args.cell_timeout, args.jobs, report=lambda line: print(line, flush=True)
    )
    rows = list(zip(subs, results))
    questions = read_questions(args.autograder)
    write_gradebook(rows, questions, args.output)
    write_feedback(rows, questions, args.output.parent / f"{args.output.stem}_feedback")
    print(f"gradebook: {args.output}; feedback: {args.output.parent / (args.output.stem + '_feedback')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
