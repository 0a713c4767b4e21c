"""Build the course site and check every link inside it; exit status 1 on a broken one.

python docs/build.py [--out docs/_build/html]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

DOCS = Path(__file__).resolve().parent
DEFAULT_OUT = DOCS / "_build" / "html"


def build(out: Path = DEFAULT_OUT) -> float:
    """Run Sphinx (html builder, -q: warnings only) from docs/ into out; return the seconds it took."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", str(DOCS), str(out)], check=True)
    return time.perf_counter() - start


class _Refs(HTMLParser):
    """Collects a page's ids and its href/src targets."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.ids.add(value)
            if key in ("href", "src") and value:
                self.targets.append(value)


def parse(page: Path) -> _Refs:
    """A built page's ids and link targets."""
    refs = _Refs()
    refs.feed(page.read_text(encoding="utf-8", errors="replace"))
    return refs


def is_local(target: str) -> bool:
    """True for a link into the site: no scheme, no host, not mailto/javascript/data."""
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def site_pages(site: Path) -> list[Path]:
    """The built pages; _static/ holds the theme's template fragments, not pages."""
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)


def broken_links(site: Path) -> list[str]:
    """Every `page: target` whose file or #anchor does not exist in the built site."""
    pages = {p.resolve(): parse(p) for p in site_pages(site)}
    broken = []
    for page, refs in pages.items():
        for target in refs.targets:
            if not is_local(target):
                continue
            parts = urlsplit(target)
            path = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if path.is_dir():
                path = path / "index.html"
            found = path.exists() and (not parts.fragment or path.suffix != ".html" or _has_id(pages, path, parts))
            if not found:
                broken.append(f"{page.relative_to(site.resolve())}: {target}")
    return broken


def _has_id(pages: dict[Path, _Refs], path: Path, parts: object) -> bool:
    """True when the page at path has the fragment's id."""
    refs = pages.get(path) or parse(path)
    return unquote(parts.fragment) in refs.ids


def main() -> None:
    """Command line: build, then check the links."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    out = parser.parse_args().out
    seconds = build(out)
    broken = broken_links(out)
    for line in broken:
        print(f"broken link: {line}", file=sys.stderr)
    pages = len(site_pages(out))
    print(f"site: {pages} pages in {out} built in {seconds:.1f} s; {len(broken)} broken links")
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
