"""Sphinx configuration of the minipplug course site: MyST pages, the stored notebooks, the API from docstrings.

Build (offline, a few seconds; nothing is executed): ``python -m sphinx -b html docs docs/_build/html``.
The build first renders the result tables (make_tables.py) and copies notebooks/0*.ipynb next to the pages.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # autodoc imports this checkout's minipplug
sys.path.insert(0, str(DOCS))

import make_tables  # noqa: E402

project = "minipplug"
author = "minipplug contributors"
copyright = "minipplug contributors, MIT licence"
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3  # [text](page.md#a-heading) links
nb_execution_mode = "off"  # chapters show the notebooks as stored, outputs included
exclude_patterns = ["_build", "_generated", "notebooks/*_files", "**.ipynb_checkpoints"]
suppress_warnings = [
    "myst.header",
    "misc.highlighting_failure",
]  # notebook titles skip levels; `!cmd` lines in Colab cells
autodoc_member_order = "bysource"
autodoc_typehints = "description"
smartquotes = False  # names and quoted answers read as written
html_theme = "sphinx_book_theme"
html_title = "minipplug"
html_theme_options = {
    "repository_url": "https://github.com/minipplug/minipplug",
    "use_repository_button": True,
    "path_to_docs": "docs",
    "show_toc_level": 2,
}
html_last_updated_fmt = None


def copy_notebooks(app: object = None, config: object = None) -> None:
    """The chapters: notebooks/0*.ipynb as stored, copied into docs/notebooks/ (ignored by git)."""
    dest = DOCS / "notebooks"
    dest.mkdir(exist_ok=True)
    for nb in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        target = dest / nb.name
        # A chapter sits one folder deeper than in the repository: its ../docs/ images are ../ here.
        text = nb.read_text(encoding="utf-8").replace("](../docs/", "](../")
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")  # only changed chapters are rebuilt


def data_entry(module: str, name: str, value: object) -> str:
    """A table of the API (TASKS, COMPARE_METHODS): its type and its keys, not its whole value."""
    keys = ", ".join(f"``{k}``" for k in value)
    head = f".. py:data:: {name}\n   :module: {module}\n   :type: {type(value).__name__}"
    return f"{head}\n\n   {len(value)} entries: {keys}."


def api_page() -> str:
    """The API reference: the curated top-level names (minipplug._API), grouped by the module that defines them."""
    from importlib import import_module

    from minipplug import _API

    modules: dict[str, list[str]] = {}
    for name, module in _API.items():
        modules.setdefault(module, []).append(name)
    parts = []
    for module in sorted(modules):
        mod = import_module(f"minipplug.{module}")
        code = [n for n in modules[module] if callable(getattr(mod, n))]
        data = [n for n in modules[module] if n not in code]  # tables such as TASKS: name and type, not the value
        rst = [f".. automodule:: minipplug.{module}\n   :members: {', '.join(code)}"] if code else []
        rst += [data_entry(f"minipplug.{module}", n, getattr(mod, n)) for n in data]
        parts.append(f"## `minipplug.{module}`\n\n```{{eval-rst}}\n" + "\n\n".join(rst) + "\n```\n")
    return "\n".join(parts)


def write_generated(app: object = None, config: object = None) -> None:
    """Everything the pages include: the result tables, the API page's body and the chapters."""
    make_tables.write_tables()
    text = api_page()
    path = make_tables.OUT / "api.md"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        make_tables.atomic_write_text(path, text)
    copy_notebooks()


def setup(app: object) -> None:
    """Write the generated sources before Sphinx reads them."""
    app.connect("config-inited", write_generated)
