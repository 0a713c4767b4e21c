"""Download real LaMP files (needs internet; cached and idempotent)."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from ..atomic import atomic_path
from ..config import cache_dir
from ..errors import InputError
from .tasks import TaskSpec


class DownloadError(InputError, ConnectionError):
    """A LaMP file that cannot be fetched (offline, or the server said no)."""


BASE = "https://ciir.cs.umass.edu/downloads/LaMP"


def lamp_url(task: TaskSpec, split: str, kind: str, time_based: bool = False) -> str:
    """Address of one LaMP file; kind is 'questions' or 'outputs'."""
    folder = task.lamp_folder
    if split not in {"train", "dev", "test"}:
        raise InputError(f"split must be train, dev or test, got '{split}'")
    if kind not in {"questions", "outputs"}:
        raise InputError(f"kind must be questions or outputs, got '{kind}'")
    if split == "test" and kind == "outputs":
        raise InputError("LaMP withholds the test golds: there is no test_outputs.json")
    prefix = f"{BASE}/time" if time_based else BASE
    return f"{prefix}/{folder}/{split}/{split}_{kind}.json"


def download_lamp(
    task: TaskSpec, split: str = "dev", time_based: bool = False, root: str | os.PathLike | None = None
) -> dict[str, Path]:
    """Fetch questions (and outputs, except for test) into the cache; files already there are reused."""
    name = task.name
    root = Path(root) if root else cache_dir() / "lamp"
    folder = root / ("time" if time_based else "user") / name
    folder.mkdir(parents=True, exist_ok=True)
    kinds = ["questions"] if split == "test" else ["questions", "outputs"]
    paths = {}
    for kind in kinds:
        dest = folder / f"{split}_{kind}.json"
        paths[kind] = dest
        if dest.exists():
            continue
        url = lamp_url(task, split, kind, time_based)
        try:
            with atomic_path(dest) as tmp, urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as f:
                while chunk := resp.read(1 << 20):
                    f.write(chunk)
        except (urllib.error.URLError, OSError) as e:
            raise DownloadError(
                f"cannot download {url} ({getattr(e, 'reason', e)}); real LaMP needs internet. "
                "Offline, use the bundled samples in data_samples/ (minipplug data make-samples)."
            ) from None
    return paths
