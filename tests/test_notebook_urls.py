"""The repository URL lives in one place, pyproject.toml's [project.urls]: every notebook's Colab badge and
install cell must use it, and a badge must open the notebook it sits in (its own file name)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

BADGE = re.compile(r"colab\.research\.google\.com/github/([^/\s)\"']+)/([^/\s)\"']+)/blob/([^/\s)\"']+)/(\S+?\.ipynb)")
INSTALL = re.compile(
    r"pip install\b[^\n]*?git\+https://github\.com/([^/\s@#]+)/([^/\s@#]+?)(?:\.git)?(?=[\s@#]|$)", re.MULTILINE
)


def repository() -> tuple[str, str]:
    """(owner, repo) from pyproject.toml's [project.urls] Repository."""
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["urls"]
    m = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)/?", urls["Repository"])
    assert m, f"[project.urls] Repository is not a GitHub repository URL: {urls['Repository']}"
    assert urls.get("Homepage", urls["Repository"]).rstrip("/") == urls["Repository"].rstrip("/"), (
        "[project.urls] Homepage and Repository differ"
    )
    return m.group(1), m.group(2)


def cells(path: Path) -> list[tuple[str, str]]:
    """(cell_type, source) of every cell."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [
        (c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"]) for c in nb["cells"]
    ]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 6, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_badge_uses_the_repository_and_own_name(path: Path):
    owner, repo = repository()
    badges = [m for kind, src in cells(path) if kind == "markdown" for m in BADGE.finditer(src)]
    assert badges, (
        f"{path.name}: no Colab badge (colab.research.google.com/github/{owner}/{repo}/blob/main/notebooks/{path.name})"
    )
    for m in badges:
        assert (m.group(1), m.group(2)) == (owner, repo), (
            f"{path.name}: badge points at {m.group(1)}/{m.group(2)}, pyproject says {owner}/{repo}"
        )
        assert m.group(3) == "main", f"{path.name}: badge opens branch {m.group(3)}, not main"
        assert m.group(4) == f"notebooks/{path.name}", f"{path.name}: badge opens {m.group(4)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_install_cell_uses_the_repository(path: Path):
    owner, repo = repository()
    code = [src for kind, src in cells(path) if kind == "code"]
    installs = [m for src in code for m in INSTALL.finditer(src)]
    assert installs, f"{path.name}: no install cell (pip install ... git+https://github.com/{owner}/{repo})"
    for m in installs:
        assert (m.group(1), m.group(2)) == (owner, repo), (
            f"{path.name}: installs from {m.group(1)}/{m.group(2)}, pyproject says {owner}/{repo}"
        )
    # Any other github.com/<owner>/<repo> mention in code must be the same repository too.
    for src in code:
        for o, r in re.findall(r"github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?(?=[\s/@#\"']|$)", src, re.MULTILINE):
            assert (o, r) == (owner, repo), f"{path.name}: code mentions github.com/{o}/{r}"
