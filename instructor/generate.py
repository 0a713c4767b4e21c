"""Generate notebook 06's student version and its autograder from the instructor source, with otter-grader.

    python instructor/generate.py            # otter assign -> instructor/dist/, then publish the student version
    python instructor/generate.py --check    # regenerate in a temporary folder; fail if notebooks/ differs

Source:    instructor/source/06_assignments.ipynb (solutions, visible and hidden tests, points) and
           instructor/source/06_assignments_files/pplug_course.py (support code, no solutions).
Generated: instructor/dist/student/ and instructor/dist/autograder/ (otter's layout; not committed), with the
           autograder at the stable path instructor/dist/autograder/autograder.zip (hidden tests inside),
           and the published student version (committed):
           notebooks/06_assignments.ipynb and notebooks/06_assignments_files/{pplug_course.py, tests/q*.py}.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

INSTRUCTOR = Path(__file__).resolve().parent
ROOT = INSTRUCTOR.parent
SOURCE = INSTRUCTOR / "source" / "06_assignments.ipynb"
NAME = "06_assignments"
FILES = f"{NAME}_files"


def otter_assign(out: Path) -> Path:
    """Run `otter assign` on the source into ``out``; returns the autograder zip (renamed to autograder.zip)."""
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # run from instructor/source so that the config's relative file paths resolve; no Docker, no execution
    subprocess.run(
        [sys.executable, "-m", "otter", "assign", str(SOURCE), str(out)],
        cwd=SOURCE.parent,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    zips = sorted((out / "autograder").glob(f"{NAME}-autograder_*.zip"))
    assert len(zips) == 1, f"expected one autograder zip, found {zips}"
    return zips[0].rename(out / "autograder" / "autograder.zip")


def normalized(nb_path: Path) -> dict:
    """The notebook without volatile fields (cell ids, execution counts, outputs): what the comparison sees."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        cell.pop("id", None)
        if cell["cell_type"] == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
    return nb


def publish(dist: Path, dest: Path) -> None:
    """Copy the student version into ``dest`` (notebooks/): the notebook, the support file, the visible tests."""
    student = dist / "student"
    nb = normalized(student / f"{NAME}.ipynb")
    (dest / f"{NAME}.ipynb").write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    files = dest / FILES
    if files.exists():
        shutil.rmtree(files)
    shutil.copytree(student / FILES, files)
    shutil.copytree(student / "tests", files / "tests")


def differences(a: Path, b: Path) -> list[str]:
    """Files that differ between two published student versions (notebooks compared without volatile fields)."""
    out = []
    if normalized(a / f"{NAME}.ipynb") != normalized(b / f"{NAME}.ipynb"):
        out.append(f"{NAME}.ipynb")
    names = {p.relative_to(a / FILES) for p in (a / FILES).rglob("*.py")} | {
        p.relative_to(b / FILES) for p in (b / FILES).rglob("*.py")
    }
    for rel in sorted(names):
        pa, pb = a / FILES / rel, b / FILES / rel
        if not (pa.exists() and pb.exists() and filecmp.cmp(pa, pb, shallow=False)):
            out.append(f"{FILES}/{rel}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only compare a fresh generation with notebooks/")
    ap.add_argument("--dist", type=Path, default=INSTRUCTOR / "dist", help="otter's output (default instructor/dist)")
    ap.add_argument("--publish-to", type=Path, default=ROOT / "notebooks", help="where the student version goes")
    args = ap.parse_args(argv)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            otter_assign(Path(tmp) / "dist")
            publish(Path(tmp) / "dist", Path(tmp))
            diff = differences(Path(tmp), args.publish_to)
        if diff:
            print("out of date (run python instructor/generate.py):", ", ".join(diff))
            return 1
        print("the student version in", args.publish_to, "is up to date")
        return 0
    zip_path = otter_assign(args.dist)
    publish(args.dist, args.publish_to)
    print(
        f"autograder: {zip_path}\nstudent version: {args.publish_to / (NAME + '.ipynb')} and {args.publish_to / FILES}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
