"""The committed three-seed runs that notebook 04 reports (benchmarks/results/seeds/<sample>/summary.json): read
from the repository when the notebook runs inside a checkout, else from the repository on GitHub (Colab)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from importlib.metadata import metadata
from pathlib import Path

from ..errors import InputError

SEEDS_PATH = "benchmarks/results/seeds/{sample}/summary.json"


def repository_raw_url() -> str:
    """The raw-file URL of the main branch of the repository named in the package's metadata (pyproject's)."""
    urls = dict(u.split(", ", 1) for u in metadata("minipplug").get_all("Project-URL") or [])
    repo = urls["Repository"].rstrip("/").removeprefix("https://github.com/")
    return f"https://raw.githubusercontent.com/{repo}/main/"


def seed_summary(sample: str, start: Path | None = None) -> dict:
    """A sample's recorded `compare --seeds` summary (rows, intervals, claims, provenance): the checkout's file
    found above `start` (default: the working folder), else the repository's copy on GitHub."""
    relative = SEEDS_PATH.format(sample=sample)
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / relative).is_file():
            return json.loads((folder / relative).read_text(encoding="utf-8"))
    url = repository_raw_url() + relative
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError) as e:
        raise InputError(f"{relative}: not in a checkout above {start}, and {url} could not be read ({e})") from e
