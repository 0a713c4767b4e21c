"""Commit a `minipplug compare --seeds` run: its summary, claims and figure into benchmarks/results/seeds/<sample>/,
with the run's provenance (command, wall time, machine, date) added to summary.json.

    python benchmarks/record_seeds.py runs/seeds_kinds lamp2_kinds --wall-seconds 3600 --threads 2 \
        --command "minipplug compare ... --seeds 0 1 2 --out runs/seeds_kinds"

With --add, the run only adds rows (methods the recorded run did not have, on the same seeds and questions) to
the recorded sample: its PPlug row must have the recorded mean, interval and per-seed means (the summaries keep
no per-question answers), and the claims are recomputed.

The wall time is the one measured around the command (for example by /usr/bin/time); this script measures
nothing. The site (docs/make_tables.py) and the README's claim table read the recorded folders.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minipplug.atomic import atomic_write_text  # noqa: E402
from minipplug.course.plots import plot_seed_summary  # noqa: E402
from minipplug.engine.seeds import added_rows, claims_markdown, merge_summaries, summary_markdown  # noqa: E402
from minipplug.engine.train import cpu_has_bf16  # noqa: E402
from minipplug.errors import InputError  # noqa: E402

SEEDS = ROOT / "benchmarks" / "results" / "seeds"
FILES = ("summary.md", "claims.md", "seeds.jsonl")  # copied as they are; summary.json gains provenance


def machine(threads: int, trained_in: str | None = None) -> str:
    """The CPU the run had: architecture, cores, native bf16, what it trained in (default: bf16 autocast where the
    CPU has native bf16, as precision "auto" decides, else fp32), torch threads."""
    import os

    bf16 = cpu_has_bf16()
    trained_in = trained_in or ("bf16 autocast" if bf16 else "fp32")
    plural = "s" if threads != 1 else ""
    return (
        f"{platform.machine()} CPU, {os.cpu_count()} cores, native bf16: {bf16} "
        f"(trained in {trained_in}), {threads} torch thread{plural}, no GPU"
    )


def record(run_dir: Path, sample: str, provenance: dict, dest_root: Path = SEEDS) -> Path:
    """Copy the run's reports into dest_root/sample, with provenance in summary.json and the figure redrawn with
    the sample's name; returns the folder."""
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    dest = dest_root / sample
    dest.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(run_dir / name, dest / name)
    recorded = {"sample": sample, "provenance": provenance, **summary}
    atomic_write_text(dest / "summary.json", json.dumps(recorded, indent=1) + "\n")
    plot_seed_summary(recorded, path=dest / "summary.png")
    return dest


def add(run_dir: Path, sample: str, provenance: dict, dest_root: Path = SEEDS) -> Path:
    """Add a later run's new rows to the recorded sample, its provenance listed under "added"; returns the folder."""
    dest = dest_root / sample
    recorded = json.loads((dest / "summary.json").read_text(encoding="utf-8"))
    rows = added_rows(recorded, json.loads((run_dir / "summary.json").read_text(encoding="utf-8")))
    merged = merge_summaries(recorded, rows)
    new = {(e["method"], e["decoding"]) for e in rows}
    added = {**provenance, "methods": sorted({method for method, _ in new})}
    merged["provenance"] = {**recorded["provenance"], "added": recorded["provenance"].get("added", []) + [added]}
    plot_seed_summary(merged, path=dest / "summary.png")  # first: a failure here leaves the text files as they were
    atomic_write_text(dest / "seeds.jsonl", added_lines(dest / "seeds.jsonl", run_dir / "seeds.jsonl", new))
    atomic_write_text(dest / "summary.json", json.dumps(merged, indent=1) + "\n")
    atomic_write_text(dest / "summary.md", summary_markdown(merged))
    atomic_write_text(dest / "claims.md", claims_markdown(merged, merged["claims"]))
    return dest


def added_lines(recorded: Path, run: Path, new: set[tuple[str, str]]) -> str:
    """The recorded seeds.jsonl, then the run's lines of the new (method, decoding) rows."""
    lines = recorded.read_text(encoding="utf-8").splitlines()
    for line in run.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if (row["method"], row["decoding"]) in new:
            lines.append(line)
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, help="the --out folder of compare --seeds")
    ap.add_argument("sample", help="the data's name, e.g. lamp2_kinds")
    ap.add_argument("--command", required=True, help="the command as it was run")
    ap.add_argument("--wall-seconds", type=float, required=True, help="measured around the command")
    ap.add_argument("--threads", type=int, required=True, help="the torch threads it ran with")
    ap.add_argument("--preset", default="cpu-fast", help="the training recipe it ran (compare's default: cpu-fast)")
    ap.add_argument("--note", default="")
    ap.add_argument("--add", action="store_true", help="add the run's new rows to the recorded sample")
    args = ap.parse_args()
    provenance = {
        "command": args.command,
        "preset": args.preset,
        "wall_seconds": round(args.wall_seconds),
        "machine": machine(args.threads),
        "date": datetime.date.today().isoformat(),
        "note": args.note,
    }
    try:
        print((add if args.add else record)(args.run_dir, args.sample, provenance, SEEDS))
    except InputError as e:  # a run that cannot be added: one line, nothing written
        print(f"record_seeds.py: {args.run_dir}: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
