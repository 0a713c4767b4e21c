"""Download real LaMP files (needs internet; cached and idempotent)."""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .models import cache_dir
from .tasks import get_task

BASE = "https://ciir.cs.umass.edu/downloads/LaMP"


def lamp_url(task: str, split: str, kind: str, time_based: bool = False) -> str:
    """Address of one LaMP file; kind is 'questions' or 'outputs'."""
    name = get_task(task).name
    if split not in {"train", "dev", "test"}:
        raise ValueError(f"split must be train, dev or test, got '{split}'")
    if kind not in {"questions", "outputs"}:
        raise ValueError(f"kind must be questions or outputs, got '{kind}'")
    if split == "test" and kind == "outputs":
        raise ValueError("LaMP withholds the test golds: there is no test_outputs.json")
    # The movie version of LaMP_2 lives under LaMP_2/new/; plain LaMP_2/ there is the news version (LaMP_2N).
    folder = {"LaMP_2": "LaMP_2/new", "LaMP_2N": "LaMP_2"}.get(name, name)
    prefix = f"{BASE}/time" if time_based else BASE
    return f"{prefix}/{folder}/{split}/{split}_{kind}.json"


def download_lamp(
    task: str, split: str = "dev", time_based: bool = False, root: str | os.PathLike | None = None
) -> dict[str, Path]:
    """Fetch questions (and outputs, except for test) into the cache; files already there are reused."""
    name = get_task(task).name
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
        url = lamp_url(name, split, kind, time_based)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=folder)
        os.close(fd)
        try:
            with urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as f:
                while chunk := resp.read(1 << 20):
                    f.write(chunk)
            os.replace(tmp, dest)
        except (urllib.error.URLError, OSError) as e:
            raise ConnectionError(
                f"cannot download {url} ({getattr(e, 'reason', e)}); real LaMP needs internet. "
                "Offline, use the bundled samples in data_samples/ (minipplug data make-samples)."
            ) from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return paths
