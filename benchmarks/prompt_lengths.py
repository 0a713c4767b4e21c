"""Mean prompt length of a retrieval prompt (bm25-k4) against the plain input that PPlug reads, in LLM tokens.

Loads the default LLM's tokenizer only (no model). The count is the text the LLM reads as its input (cut to the
256-token window as PPlugLM cuts it), plus the chat template's fixed wrapper; PPlug adds its soft tokens
(4 instruction + 4 user in the CPU preset) to the plain input.

    python benchmarks/prompt_lengths.py
"""

from __future__ import annotations

import statistics

from transformers import AutoTokenizer

from minipplug.config import PPlugConfig
from minipplug.engine.loading import resolve_llm
from minipplug.engine.retrieval import retrieval_prompts
from minipplug.lamp.data import load_examples
from minipplug.lamp.samples import sample_paths
from minipplug.lamp.tasks import get_task


def main() -> None:
    cfg = PPlugConfig()  # the CPU preset
    tok = AutoTokenizer.from_pretrained(resolve_llm(cfg.llm))
    window = cfg.max_input_tokens
    wrapper = 0
    if cfg.chat_template and getattr(tok, "chat_template", None):
        templ = tok.apply_chat_template([{"role": "user", "content": ""}], tokenize=False, add_generation_prompt=True)
        wrapper = len(tok(templ, add_special_tokens=False)["input_ids"])
    soft = cfg.n_instruction_tokens + cfg.n_user_tokens

    def n(text: str) -> int:
        return len(tok(text, add_special_tokens=False, verbose=False)["input_ids"])

    paths = sample_paths("lamp2_tags")
    dev = load_examples("LaMP_2", paths["dev_questions"], paths["dev_outputs"])
    plain = [n(e.input) for e in dev]
    bm25 = [n(p) for p in retrieval_prompts(dev, get_task("LaMP_2"), "bm25", 4, tok, window)]
    rows = {
        "plain input (non-personalized)": plain,
        f"plain input + {soft} soft tokens (pplug)": [x + soft for x in plain],
        "bm25-k4 prompt": bm25,
    }
    print(f"LaMP_2 sample, dev ({len(dev)} questions), {cfg.llm} tokenizer, window {window}, chat wrapper {wrapper}")
    print(f"{'prompt':40s} {'text tokens':>12s} {'LLM reads':>10s} {'over window':>12s}")
    for name, counts in rows.items():
        text = statistics.mean(counts)
        reads = statistics.mean(min(c, window + (soft if "soft" in name else 0)) + wrapper for c in counts)
        over = sum(c > window + (soft if "soft" in name else 0) for c in counts)
        print(f"{name:40s} {text:12.1f} {reads:10.1f} {over:12d}")
    ratio = statistics.mean(min(c, window) for c in bm25) + wrapper
    ratio /= statistics.mean(x + soft for x in plain) + wrapper
    print(f"bm25-k4 / pplug (what the LLM reads): {ratio:.2f}")


if __name__ == "__main__":
    main()
