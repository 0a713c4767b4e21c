"""How each stage grows with the data: time and peak memory at 1x, 4x and 16x the bundled sample, and beyond.

Stages (each measured in a fresh process, so peak memory is the stage's own):
  load       read + validate a LaMP questions and outputs file (lamp.data.load_examples); also at the real
             LaMP_2 (movie) and LaMP_7 train sizes and at 1/8 of LaMP_3's (--full: LaMP_3 and LaMP_4 whole, several
             GB of memory); benchmarks/synthetic_lamp.py cites the sizes
  encode     history encoding of every distinct profile item (HistoryEncoder.encode), at 1x-64x the sample (64x:
             44,640 items, a quarter of real LaMP_2's 197,150), with the tiny stub encoder of the tests (a 1-layer
             BERT of width 16 on the real MiniLM tokenizer). MiniLM itself ran 69 items/s against the stub's 3,240
             (256 LaMP_2-like items, 1 thread, shared machine): 64x would take 11 minutes. The stub keeps the
             tokenizer and the cache code paths real
  cache_write  one shard holding every vector (the cost of the first fill's single write)
  cache_read   opening the cache: every shard merged into memory (a new HistoryEncoder on the folder)
  cache_append one encode() of 10 new items with the whole cache already on disk (append-only: must stay flat)
  train_step one optimizer step of the training loop (tiny LLM + stub encoder, batch 8), history vectors already cached
             (the loop still looks every item up once before the first step)
  predict    8 questions, profiles of 1x-64x the sample's mean size, vectors not cached (prediction encodes
             them up front), tiny LLM generating 4 tokens

x = the profile items a stage handles: distinct items (users x mean profile size) for encode, cache and train;
item records in the file (questions x profile size: the sample gives each user 8 questions) for load; 8 x the
profile size for predict. The growth exponent of a stage is the slope of log(seconds) against log(x), fitted
over its points (one timing per point, on 2 CPU cores shared with other work: expect noise of tens of percent).

    MINIPPLUG_THREADS=1 python benchmarks/bench_scale.py [--out benchmarks/results/scale.json] [--plot docs/scale.png]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from synthetic_lamp import REAL, SAMPLE, synthetic_records, write_synthetic  # noqa: E402


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


def examples_for(task: str, users: int, profile: float, qpu: int):
    from minipplug.lamp.data import Example
    from minipplug.lamp.tasks import get_task

    spec = get_task(task)
    qs, outs = synthetic_records(task, users, profile, qpu)
    golds = {g["id"]: g["output"] for g in outs["golds"]}
    return [
        Example(
            q["id"],
            q["input"],
            spec.query(q["input"]),
            [spec.item_text(i) for i in q["profile"]],
            q["profile"],
            golds[q["id"]],
            q["user_id"],
        )
        for q in qs
    ]


def worker(stage: str, task: str, users: int, profile: float, qpu: int) -> dict:
    """One measurement in this (fresh) process: seconds and peak memory above the stage's starting point."""
    import torch

    from minipplug.config import threads_from_env
    from minipplug.lamp.tasks import get_task

    torch.set_num_threads(threads_from_env() or 1)
    import pplug_tiny as tiny

    from minipplug.model.encoder import HistoryEncoder

    tmp = Path(tempfile.mkdtemp(prefix="bench_scale."))
    fn = None
    if stage == "load":
        from minipplug.lamp.data import load_examples

        q, o = write_synthetic(tmp, task, users, profile, qpu)

        def fn():
            return load_examples(task, q, o)

    else:
        ex = examples_for(task, users, profile, qpu)
        items = list(dict.fromkeys(t for e in ex for t in e.history))
        enc = tiny.tiny_sentence_encoder()
        if stage == "encode":
            hist = HistoryEncoder(enc, "stub")

            def fn():
                return hist.encode(items)

        elif stage.startswith("cache"):
            filled = HistoryEncoder(enc, "stub", disk_dir=tmp)
            if stage == "cache_write":
                filled.disk_dir, disk = None, filled.disk_dir
                filled.encode(items)
                filled.disk_dir = disk

                def fn():
                    return filled._write_shard(filled.cache)

            else:
                filled.encode(items)
                if stage == "cache_read":

                    def fn():
                        return HistoryEncoder(enc, "stub", disk_dir=tmp)

                else:  # cache_append

                    def fn():
                        return filled.encode([f"a new item {i}" for i in range(10)])

        elif stage == "train_step":
            from minipplug.engine.train import train_loop
            from minipplug.model.injection import PPlugLM

            plm = PPlugLM(tiny.tiny_llama(), chat_template=True, max_input_tokens=256, soft_position="input")
            cfg = tiny.tiny_config(batch_size=8, epochs=1.0)
            plug, hist = tiny.setup_plug(cfg, plm)
            hist.encode(items)

            def fn():
                return train_loop(cfg, plug, plm, hist, ex, stop_after_steps=1)

        elif stage == "predict":
            from minipplug.engine.predict import predict
            from minipplug.model.injection import PPlugLM

            plm = PPlugLM(tiny.tiny_llama(), chat_template=True, max_input_tokens=256, soft_position="input")
            cfg = tiny.tiny_config()
            plug, hist = tiny.setup_plug(cfg, plm)

            def fn():
                spec = get_task(task)
                return predict(ex, spec, plm, plug=plug, hist=hist, batch_size=8, max_new_tokens=4, progress=False)

    gc.collect()
    base, t0 = rss_mb(), time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "peak_mb_above_start": max(0.0, peak_mb() - base)}


def plan(full: bool) -> list[dict]:
    s = SAMPLE
    runs = []
    for mult in (1, 4, 16):
        for stage in ("load", "encode", "cache_write", "cache_read", "cache_append", "train_step"):
            runs.append(
                dict(
                    stage=stage,
                    task="LaMP_2",
                    users=s["users"] * mult,
                    profile=s["profile_mean"],
                    qpu=s["questions_per_user"],
                    scale=f"{mult}x sample",
                )
            )
    for mult in (1, 4, 16, 64):
        runs.append(
            dict(
                stage="predict",
                task="LaMP_2",
                users=8,
                profile=s["profile_mean"] * mult,
                qpu=1,
                scale=f"8 questions, {mult}x profile",
            )
        )
    reals = [("LaMP_2", 1.0), ("LaMP_7", 1.0), ("LaMP_3", 0.125)] + ([("LaMP_3", 1.0), ("LaMP_4", 1.0)] if full else [])
    for task, share in reals:
        r = REAL[task]
        runs.append(
            dict(
                stage="load",
                task=task,
                users=round(r.train_users * share),
                profile=r.profile_mean,
                qpu=1,
                scale=f"real {task} train" + ("" if share == 1 else f" x{share:g}"),
            )
        )
    for stage in ("encode", "cache_write", "cache_read", "cache_append"):  # 44,640 items: 1/4 of real LaMP_2's
        runs.append(
            dict(
                stage=stage,
                task="LaMP_2",
                users=s["users"] * 64,
                profile=s["profile_mean"],
                qpu=s["questions_per_user"],
                scale="64x sample",
            )
        )
    return runs


def x_of(run: dict) -> int:
    """Profile items the stage handles: every item record of the file for load (a user's profile is repeated in
    each of their questions), every distinct item otherwise (prediction: 8 questions x their profiles)."""
    per_question = run["stage"] in ("load", "predict")
    return round(run["users"] * run["profile"] * (run["qpu"] if per_question else 1))


def fit_exponents(rows: list[dict]) -> dict[str, float]:
    import numpy as np

    out = {}
    for stage in dict.fromkeys(r["stage"] for r in rows):
        pts = [(r["x"], r["seconds"]) for r in rows if r["stage"] == stage and r["seconds"] > 0]
        if len(pts) >= 2:
            x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
            out[stage] = float(np.polyfit(x, y, 1)[0])
    return out


def plot(rows: list[dict], exps: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    for stage in dict.fromkeys(r["stage"] for r in rows):
        pts = sorted((r["x"], r["seconds"]) for r in rows if r["stage"] == stage)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"{stage} (slope {exps.get(stage, 0):.2f})")
    xs = sorted(r["x"] for r in rows)
    ref = [xs[0], xs[-1]]
    ax.plot(ref, [1e-3 * x / ref[0] for x in ref], "k--", lw=1, label="linear (slope 1), for reference")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("profile items handled (count: users x mean profile size)")
    ax.set_ylabel("wall time (seconds)")
    ax.set_title("minipplug: time per stage vs data size (2 shared CPU cores, 1 torch thread)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def markdown(rows: list[dict], exps: dict[str, float]) -> str:
    lines = [
        "| stage | scale | users | mean profile | x = users x items | seconds | peak MB above start |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['stage']} | {r['scale']} | {r['users']} | {r['profile']:g} | {r['x']:,} | "
            f"{r['seconds']:.3g} | {r['peak_mb_above_start']:.0f} |"
        )
    lines += ["", "| stage | growth exponent (log-log slope of seconds vs x) |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in exps.items()]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", nargs=5, metavar=("STAGE", "TASK", "USERS", "PROFILE", "QPU"))
    ap.add_argument("--full", action="store_true", help="also load LaMP_3 and LaMP_4 at their full real size")
    ap.add_argument("--out", default=str(HERE / "results" / "scale.json"))
    ap.add_argument("--plot", default=str(HERE.parent / "docs" / "scale.png"))
    ap.add_argument("--table", default="benchmarks/results/scale_table.md")
    ap.add_argument("--replot", action="store_true", help="only redo the fit, plot and table from --out")
    ap.add_argument("--stages", nargs="+", help="measure only these stages again, replacing their rows in --out")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per measurement")
    args = ap.parse_args()
    if args.worker:
        stage, task, users, profile, qpu = args.worker
        print(json.dumps(worker(stage, task, int(users), float(profile), int(qpu))))
        return
    rows = []
    if args.replot or args.stages:
        rows = [{**r, "x": x_of(r)} for r in json.loads(Path(args.out).read_text())["rows"]]
        rows = [r for r in rows if not args.stages or r["stage"] not in args.stages]
    todo = [] if args.replot else [r for r in plan(args.full) if not args.stages or r["stage"] in args.stages]
    for run in todo:
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            run["stage"],
            run["task"],
            str(run["users"]),
            str(run["profile"]),
            str(run["qpu"]),
        ]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"timeout: {run}", file=sys.stderr)
            continue
        if p.returncode != 0:
            print(f"failed: {run}\n{p.stderr[-2000:]}", file=sys.stderr)
            continue
        row = {**run, "x": x_of(run), **json.loads(p.stdout.strip().splitlines()[-1])}
        rows.append(row)
        print(json.dumps(row), flush=True)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    exps = fit_exponents(rows)
    Path(args.out).write_text(json.dumps({"rows": rows, "exponents": exps}, indent=1) + "\n")
    plot(rows, exps, Path(args.plot))
    Path(args.table).write_text(markdown(rows, exps) + "\n")
    print(markdown(rows, exps))


if __name__ == "__main__":
    main()
