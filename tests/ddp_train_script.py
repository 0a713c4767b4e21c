"""Trains the tiny plug in 2 CPU processes (engine/test_train.py::test_ddp_ranks_end_identical and
::test_ddp_ranks_stop_together).

Usage: ddp_train_script.py OUT_DIR [MODE]. MODE "fixed" (the default) trains 2 epochs; "time-cap" and "patience"
let an early-stopping monitor end the run, fed with per-process fake clocks or scores that disagree: rank 0's
say stop at step 3, rank 1's would stop at step 1 (time cap) or never (patience). Each rank writes
OUT_DIR/rank<i>.safetensors (its final plug weights) and OUT_DIR/rank<i>.json (world size, its own per-step
losses, whether the weights moved, and the monitor's decision).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pplug_tiny as tiny  # noqa: E402


def ticking(first: float, then: float):
    """A fake clock: `first` at its first reading (the run's start), then `then` times the readings so far."""
    readings = []

    def clock() -> float:
        readings.append(1)
        return first if len(readings) == 1 else then * (len(readings) - 1)

    return clock


def monitor(mode: str, rank: int):
    """An AutoStop whose clock or scores differ per process; rank 0's decide (stop at step 3)."""
    from minipplug.engine.autostop import AutoStop

    if mode == "time-cap":  # rank 0: one second per step, cap 3 s; rank 1: a day per step (past the cap at once)
        clock = ticking(0.0, 1.0 if rank == 0 else 86400.0)
        return AutoStop(lambda p: 1.0, every=100, patience=9, max_seconds=3.0, clock=clock)
    scores = iter([1.0, 2.0, 3.0, 4.0] if rank == 0 else [4.0, 3.0, 2.0, 1.0])  # rank 0 gets worse, rank 1 better
    return AutoStop(lambda p: next(scores), every=1, patience=2, max_seconds=1e9)


def main(out_dir: Path, mode: str) -> None:
    from accelerate import PartialState
    from safetensors.torch import save_file

    from minipplug.engine.train import train_loop
    from minipplug.model.encoder import HistoryEncoder
    from minipplug.model.injection import PPlugLM, embedding_scale
    from minipplug.model.plug import build_plug

    torch.set_num_threads(1)
    cfg = tiny.tiny_config(batch_size=4, epochs=2.0, chat_template=False)
    plm = PPlugLM(tiny.tiny_llama(tokenizer=tiny.word_tokenizer(bos=True)), chat_template=False)
    enc = tiny.tiny_sentence_encoder()
    hist = HistoryEncoder(enc, cfg.encoder)
    plug = build_plug(cfg, enc, plm.dim, embedding_scale(plm.model))
    start = {k: v.clone() for k, v in plug.trainable_state_dict().items()}
    stop = None if mode == "fixed" else monitor(mode, int(os.environ.get("RANK", "0")))
    result = train_loop(cfg, plug, plm, hist, tiny.tiny_examples(), monitor=stop)
    state = PartialState()
    final = result.plug.trainable_state_dict()
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(final, str(out_dir / f"rank{state.process_index}.safetensors"))
    info = {
        "world": state.num_processes,
        "rank": state.process_index,
        "steps": result.steps,
        "losses": result.losses,
        "moved": any(not torch.equal(start[k], final[k]) for k in final),
        "stop": None if stop is None else [stop.stopped_at, stop.reason, stop.best_step],
    }
    (out_dir / f"rank{state.process_index}.json").write_text(json.dumps(info))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "fixed")
