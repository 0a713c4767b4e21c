"""Generate every notebook's student version and autograder from the instructor sources, with otter-grader.

    python instructor/generate.py                 # otter assign each source, publish, re-run lessons 01-05
    python instructor/generate.py --no-execute    # publish without re-running the lessons (their outputs go)
    python instructor/generate.py --check         # regenerate in a temporary folder; fail if notebooks/ differs

Sources:   instructor/source/NN_name.ipynb (the lesson, the exercises' solutions, visible and hidden checks,
           points, rubrics) and instructor/source/NN_name_files/ (support code shipped to students, if any).
Generated: instructor/dist/NN_name/{student,autograder}/ (otter's layout; not committed), with the autograder
           at instructor/dist/NN_name/autograder/autograder.zip (hidden checks inside) and questions.json
           beside it (each question's points, manual or not); and the published student version (committed):
           notebooks/NN_name.ipynb and notebooks/NN_name_files/{support files, tests/q*.py (visible checks)}.
The lessons 01-05 are re-run after publishing so that they carry their outputs; 06 is handed in blank.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from minipplug.atomic import atomic_write_text

INSTRUCTOR = Path(__file__).resolve().parent
ROOT = INSTRUCTOR.parent
SOURCES = INSTRUCTOR / "source"
OUTPUT_FREE = {"06_assignments"}  # handed in blank: no outputs in the student version


def names() -> list[str]:
    """The assignments: one per source notebook, in the series' order."""
    return sorted(p.stem for p in SOURCES.glob("[0-9][0-9]_*.ipynb"))


def questions(source: Path) -> list[dict]:
    """Each question's name, points and manual flag, read from the source's `# BEGIN QUESTION` cells."""
    out = []
    for cell in json.loads(source.read_text(encoding="utf-8"))["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "raw" and text.startswith("# BEGIN QUESTION"):
            cfg = yaml.safe_load(text.split("\n", 1)[1])
            out.append({"name": cfg["name"], "points": cfg["points"], "manual": bool(cfg.get("manual", False))})
    return out


def otter_assign(name: str, out: Path) -> Path:
    """Run `otter assign` on one source into ``out``; returns its autograder zip (renamed to autograder.zip)."""
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    source = SOURCES / f"{name}.ipynb"
    # run from the source folder so that the config's relative file paths resolve; no Docker, no execution
    subprocess.run(
        [sys.executable, "-m", "otter", "assign", str(source), str(out)],
        cwd=SOURCES,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    zips = sorted((out / "autograder").glob(f"{name}-autograder_*.zip"))
    assert len(zips) == 1, f"expected one autograder zip, found {zips}"
    (out / "autograder" / "questions.json").write_text(json.dumps(questions(source), indent=1) + "\n")
    return zips[0].rename(out / "autograder" / "autograder.zip")


def normalized(nb_path: Path) -> dict:
    """The notebook without volatile fields (cell ids, execution counts, outputs): what the comparison sees."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    nb["metadata"].pop("language_info", None)  # the kernel writes its version here when a lesson is re-run
    nb["metadata"].pop("widgets", None)
    for cell in nb["cells"]:
        cell.pop("id", None)
        if cell["cell_type"] == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
            cell["metadata"].pop("execution", None)
    return nb


def publish(name: str, dist: Path, dest: Path) -> None:
    """Copy one student version into ``dest`` (notebooks/): the notebook, its support files, the visible tests."""
    student = dist / "student"
    nb = normalized(student / f"{name}.ipynb")
    atomic_write_text(dest / f"{name}.ipynb", json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    files = dest / f"{name}_files"
    if files.exists():
        shutil.rmtree(files)
    if (student / f"{name}_files").exists():
        shutil.copytree(student / f"{name}_files", files)
    shutil.copytree(student / "tests", files / "tests")


def execute(notebook: Path, threads: int) -> None:
    """Run a published lesson top to bottom in place, so that it carries its outputs (nbconvert, one kernel)."""
    env = dict(os.environ, MINIPPLUG_THREADS=str(threads), OMP_NUM_THREADS=str(threads), HF_HUB_OFFLINE="1")
    env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace"]
    subprocess.run(
        [*cmd, "--ExecutePreprocessor.timeout=3600", notebook.name], cwd=notebook.parent, env=env, check=True
    )
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    if nb["metadata"].pop("widgets", None) is not None:  # live widgets' state: noise in a committed notebook
        atomic_write_text(notebook, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def differences(name: str, a: Path, b: Path) -> list[str]:
    """Files that differ between two published student versions (notebooks compared without volatile fields)."""
    out = []
    if normalized(a / f"{name}.ipynb") != normalized(b / f"{name}.ipynb"):
        out.append(f"{name}.ipynb")
    files = f"{name}_files"
    rels = {p.relative_to(a / files) for p in (a / files).rglob("*.py")}
    rels |= {p.relative_to(b / files) for p in (b / files).rglob("*.py")}
    for rel in sorted(rels):
        pa, pb = a / files / rel, b / files / rel
        if not (pa.exists() and pb.exists() and filecmp.cmp(pa, pb, shallow=False)):
            out.append(f"{files}/{rel}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="assignments to generate (default: every source)")
    ap.add_argument("--check", action="store_true", help="only compare a fresh generation with notebooks/")
    ap.add_argument("--no-execute", action="store_true", help="do not re-run the lessons after publishing")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the re-run (default 1)")
    ap.add_argument("--dist", type=Path, default=INSTRUCTOR / "dist", help="otter's output (default instructor/dist)")
    ap.add_argument("--publish-to", type=Path, default=ROOT / "notebooks", help="where the student versions go")
    args = ap.parse_args(argv)
    chosen = args.names or names()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            diff = []
            for name in chosen:
                otter_assign(name, Path(tmp) / "dist" / name)
                publish(name, Path(tmp) / "dist" / name, Path(tmp))
                diff += differences(name, Path(tmp), args.publish_to)
        if diff:
            print("out of date (run python instructor/generate.py):", ", ".join(diff))
            return 1
        print("the student versions in", args.publish_to, "are up to date")
        return 0
    for name in chosen:
        zip_path = otter_assign(name, args.dist / name)
        publish(name, args.dist / name, args.publish_to)
        print(f"{name}: autograder {zip_path}; student version {args.publish_to / name}.ipynb", flush=True)
    for name in chosen:
        if name not in OUTPUT_FREE and not args.no_execute:
            execute(args.publish_to / f"{name}.ipynb", args.threads)
            print(f"{name}: re-run with its outputs", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
