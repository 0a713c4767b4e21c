"""Seeded generators of the small LaMP-format datasets in data_samples/, one module per dataset.

Each synthetic task plants a per-user signal that the input alone cannot reveal, so a method can only reach
the oracle by reading the user's history: ``lamp2_tags`` (tags.py), ``lamp3_ratings`` (ratings.py),
``lamp7_style`` (style.py), ``lamp4_sotu`` (speeches.py, real text) and ``lamp2_kinds`` (kinds.py: the answer
needs the question and the history together). Shared helpers are in common.py.

Dev users never appear in train (LaMP's user-based split), so dev measures what a *new* user gets; no question
is answered verbatim in its own user's profile. Re-running ``make_samples`` reproduces every file byte for byte.

Not bundled: ``make_hard_samples`` (hard.py) writes ``lamp2_hard``, a harder LaMP_2 variant, and
``make_heldout_sample`` (heldout.py) it and three LaMP_2 designs of other kinds (a time-based split with full
private rankings, long histories, heavy label noise): held-out data for benchmarks/sweep_recipe.py.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from ...atomic import atomic_write_text
from ...config import cache_dir
from ..data import load_examples
from . import kinds, ratings, speeches, style, tags
from .common import NOISE, SEED, Sample, _dump, size_fields, write_splits
from .hard import hard_oracle, make_hard_samples, make_lamp2_hard
from .kinds import KIND_CUES, KIND_TAGS, kind_of, make_lamp2_kinds
from .ratings import LAMP3_INSTRUCTION, PRODUCTS, SENTIMENT, make_lamp3
from .speeches import LAMP4_INSTRUCTION, make_lamp4_sotu
from .style import HASHTAGS, LAMP7_INSTRUCTION, OPENERS, TWEETS, make_lamp7
from .tags import LAMP2_INSTRUCTION, TAG_CUES, _lamp2_record, cued_tags, make_lamp2

GENERATORS: dict[str, Sample] = {
    "lamp2_tags": tags.SAMPLE,
    "lamp3_ratings": ratings.SAMPLE,
    "lamp7_style": style.SAMPLE,
    "lamp4_sotu": speeches.SAMPLE,
    "lamp2_kinds": kinds.SAMPLE,
}


def make_samples(out: str | Path = "data_samples", seed: int = SEED, names: list[str] | None = None) -> dict[str, dict]:
    """Write every sample dataset under ``out``; returns each one's summary (sizes and oracle scores)."""
    summaries = {}
    for name in names or list(GENERATORS):
        summaries[name] = make_sample(Path(out), name, seed)
    return summaries


def make_sample(out: Path, name: str, seed: int = SEED) -> dict:
    """Write one sample under out/name (files + summary.json, seeded: byte-identical on re-runs); its summary."""
    sample = GENERATORS[name]
    task, splits, personas = sample.generate(random.Random(f"{seed}-{name}"))
    folder = out / name
    write_splits(folder, task, splits)
    dev = load_examples(task, folder / "dev_questions.json", folder / "dev_outputs.json")  # the package's check
    summary = {"name": name, "task": task, "seed": seed, **size_fields(splits)}
    summary.update(sample.dev_scores(task, splits, personas, {e.id: e.target for e in dev}))
    atomic_write_text(folder / "summary.json", _dump(summary))
    return summary


def sample_paths(name: str = "lamp2_tags", root: str | os.PathLike | None = None) -> dict[str, Path]:
    """Paths of a bundled sample dataset (data_samples/<name>/...)."""
    base = Path(root) if root else Path(__file__).resolve().parents[3] / "data_samples"
    folder = base / name
    if not folder.exists() and root is None:
        # A non-editable install (e.g. Colab) has no repository folder: regenerate (seeded, byte-identical).
        base = cache_dir() / "data_samples"
        folder = base / name
        if not (folder / "dev_outputs.json").exists():
            make_samples(base, names=[name])
    if not folder.exists():
        raise FileNotFoundError(f"{folder}: sample data not found; run `minipplug data make-samples --out {base}`")
    return {
        f"{split}_{kind}": folder / f"{split}_{kind}.json"
        for split in ("train", "dev")
        for kind in ("questions", "outputs")
    }


__all__ = [
    "GENERATORS",
    "HASHTAGS",
    "KIND_CUES",
    "KIND_TAGS",
    "LAMP2_INSTRUCTION",
    "LAMP3_INSTRUCTION",
    "LAMP4_INSTRUCTION",
    "LAMP7_INSTRUCTION",
    "NOISE",
    "OPENERS",
    "PRODUCTS",
    "SEED",
    "SENTIMENT",
    "TAG_CUES",
    "TWEETS",
    "_lamp2_record",
    "cued_tags",
    "hard_oracle",
    "kind_of",
    "make_hard_samples",
    "make_lamp2",
    "make_lamp2_hard",
    "make_lamp2_kinds",
    "make_lamp3",
    "make_lamp4_sotu",
    "make_lamp7",
    "make_sample",
    "make_samples",
    "sample_paths",
]
