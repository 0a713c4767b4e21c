"""Write the student release: a folder that can become its own repository, without solutions or hidden tests.

    python instructor/release.py OUT      # OUT must not exist yet

The release is every file git tracks here except the instructor material: instructor/ (the sources with
solutions, hidden tests and rubrics) and the grading tests (tests/test_grading*.py, which plant solutions into
submissions). What remains: the package, the notebooks (student versions, with their visible checks in
notebooks/NN_name_files/tests/), the data samples, the package's tests, docs and benchmarks. The folder is
written beside OUT and renamed into place when complete, so OUT is never half written.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

INSTRUCTOR = Path(__file__).resolve().parent
ROOT = INSTRUCTOR.parent
PRIVATE = ("instructor/", "tests/test_grading")  # path prefixes that stay with the instructor


def tracked_files(root: Path = ROOT) -> list[str]:
    """The paths git tracks in this checkout (committed or staged), relative to its root."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    return sorted(p for p in out.decode().split("\0") if p)


def release_files(root: Path = ROOT) -> list[str]:
    """The tracked files that go to students: everything but the instructor material."""
    return [p for p in tracked_files(root) if not p.startswith(PRIVATE) and (root / p).is_file()]


def write_release(out: Path, root: Path = ROOT) -> list[str]:
    """Copy the release into ``out`` (which must not exist); returns the files written."""
    files = release_files(root)
    tmp = out.with_name(f".{out.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    for rel in files:
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, tmp / rel)
    tmp.rename(out)  # all or nothing
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="the release folder to create (must not exist)")
    args = ap.parse_args(argv)
    if args.out.exists():
        ap.error(f"{args.out} already exists: choose a new folder (nothing was written)")
    if not args.out.parent.is_dir():
        ap.error(f"{args.out.parent} is not a folder (nothing was written)")
    files = write_release(args.out)
    print(f"release: {len(files)} files in {args.out}; no instructor/ and no grading tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
