"""Trains the tiny plug under `accelerate launch --num_processes 2 --cpu` (test_pplug.py::test_ddp_ranks_end_identical).

Usage: ddp_train_script.py OUT_DIR. Each rank writes OUT_DIR/rank<i>.safetensors (its final plug weights) and
OUT_DIR/rank<i>.json (world size, its own per-step losses, whether the weights moved).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pplug_tiny as tiny  # noqa: E402


def main(out_dir: Path) -> None:
    from accelerate import PartialState
    from safetensors.torch import save_file

    from minipplug.engine.train import _train_plug
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
    result = _train_plug(cfg, plug, plm, hist, tiny.tiny_examples())
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
    }
    (out_dir / f"rank{state.process_index}.json").write_text(json.dumps(info))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
