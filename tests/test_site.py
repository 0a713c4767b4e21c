"""The course site as a reader meets it: built from the repository, its tables equal to the result files, every
local link and figure found, and (where Debian's chromium and chromedriver are installed) every chapter opened in
headless Chromium with its figures loaded. The README is checked against the same result files.

MINIPPLUG_SITE_PNG=docs/site.png saves the landing page's screenshot there (the committed one).
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import os
import re
import shutil
import threading
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("0*.ipynb"))


def _script(name: str):
    """Import a script of docs/ (not a package) by its path."""
    spec = importlib.util.spec_from_file_location(f"docs_{name}", ROOT / "docs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built once for this module into a temporary folder."""
    if importlib.util.find_spec("myst_nb") is None or importlib.util.find_spec("sphinx_book_theme") is None:
        pytest.skip("the site's build tools are not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("site") / "html"
    seconds = _script("build").build(out)
    print(f"site built in {seconds:.1f} s")
    return out


class _Tables(HTMLParser):
    """Every <table> of a page as a list of rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None


def page_rows(site: Path, page: str) -> list[list[str]]:
    """Every table row (cell texts) of a built page."""
    parser = _Tables()
    parser.feed((site / page).read_text(encoding="utf-8"))
    return [row for table in parser.tables for row in table]


def jsonl(name: str) -> list[dict]:
    """A result file's rows, read here independently of the generator."""
    text = (RESULTS / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def plain(text: str) -> str:
    """A markdown cell's text as the browser shows it (no backticks, single spaces)."""
    return " ".join(text.replace("`", "").split())


# (file, page, key field, [(value field, decimals or "g")])
TABLES = [
    ("demo.jsonl", "results.html", "method", [("accuracy", 3), ("f1", 3), ("prompt_tokens_mean", 1)]),
    ("personalization.jsonl", "results.html", "history", [("accuracy", 3), ("train_seconds", 0)]),
    ("cpu_preset_sweep.jsonl", "training.html", "change", [("accuracy", 3)]),
    ("prompt_lengths.jsonl", "fidelity.html", "prompt", [("text_tokens_before", 1), ("llm_reads_after", 1)]),
    ("performance.jsonl", "performance.html", "measure", [("pplug", "g"), ("plain_llm", "g")]),
    ("precision.jsonl", "performance.html", "precision", [("step_seconds", 2), ("dev_accuracy", 3)]),
    ("batched_generation.jsonl", "performance.html", "llm", [("batch_1_s", 3), ("batch_16_s", 3)]),
    ("label_ranking.jsonl", "performance.html", "llm", [("one_at_a_time_s", 3), ("packed_s", 3)]),
    ("compare.jsonl", "results.html", "method", [(m, 3) for m in ("accuracy", "f1", "mae", "rmse", "rouge-1")]),
]


def cell(value: object, digits: int | str) -> str:
    """How a number must read in a page's cell."""
    if digits == "g":
        return f"{value:g}"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


@pytest.mark.parametrize("name, page, key, values", TABLES, ids=[t[0] for t in TABLES])
def test_every_result_row_is_on_its_page_with_its_numbers(site, name, page, key, values):
    rows = page_rows(site, page)
    for row in jsonl(name):
        wanted = [cell(row[field], d) for field, d in values if row.get(field) is not None]
        found = [r for r in rows if r and r[0] == plain(str(row[key])) and all(any(w in c for c in r) for w in wanted)]
        assert found, f"{page} has no table row '{row[key]}' with {wanted} ({name})"


def test_a_missing_run_says_so(site):
    """compare.jsonl starts empty: the page says no run is recorded instead of showing an old table."""
    text = (site / "results.html").read_text(encoding="utf-8")
    if not jsonl("compare.jsonl"):
        assert "No minipplug compare run of the current code is recorded yet" in re.sub(r"<[^>]+>", "", text)


def test_recipe_sweep_table_matches_its_file(site):
    rows = page_rows(site, "training.html")
    for r in jsonl("sweep_recipe.jsonl"):
        wanted = [r["recipe"], str(r["seed"]), r.get("metric", "accuracy")]
        wanted += [f"{r[k]:.3f}" if k in r else "" for k in ("pplug", "no_history", "swapped", "zero_shot", "oracle")]
        rules = ("input_only", "majority_vote", "cued_vote")
        wanted.append(" / ".join(f"{r[k]:.3f}" for k in rules) if "cued_vote" in r else "")
        wanted.append(f"{r['steps']} ({r['kept_step']})")
        assert any(row[0].startswith(r["dataset"] + " ") and row[1:11] == wanted for row in rows), r["dataset"]


def test_a_later_sweep_row_supersedes_the_earlier_one(tmp_path, monkeypatch):
    tables = _script("make_tables")
    rows = jsonl("sweep_recipe.jsonl")
    again = dict(rows[0], pplug=0.1234)
    page = tables.recipe_sweep_table(rows + [again])
    current, superseded = page.split("Superseded by a later row")
    assert "0.123" in current and f"{rows[0]['pplug']:.3f}" in superseded
    assert current.count(f"| {rows[0]['dataset']} (") == 1


def test_scale_table_and_growth_exponents_match_scale_json(site):
    points = json.loads((RESULTS / "scale.json").read_text())["rows"]
    rows = page_rows(site, "reliability.html")
    for p in points:
        assert [p["stage"], p["scale"], f"{p['x']:,}", f"{p['seconds']:.3g}"] in [r[:4] for r in rows], p
    for stage in {p["stage"] for p in points}:
        mine = [p for p in points if p["stage"] == stage]
        slope = np.polyfit(np.log([p["x"] for p in mine]), np.log([p["seconds"] for p in mine]), 1)[0]
        assert [stage, f"{slope:.2f}"] in rows, stage


def test_sample_table_matches_the_summaries(site):
    rows = page_rows(site, "data.html")
    for summary in (ROOT / "data_samples").glob("*/summary.json"):
        s = json.loads(summary.read_text())
        want = [
            s["name"],
            s["task"],
            f"{s['train_examples']} ({s['train_users']})",
            f"{s['dev_examples']} ({s['dev_users']})",
        ]
        assert want in [r[:4] for r in rows], s["name"]


def test_preset_table_lists_every_field_where_cpu_fast_and_paper_differ(site):
    from minipplug.config import PPlugConfig

    fast, paper = PPlugConfig.preset("cpu-fast"), PPlugConfig.preset("paper")
    differ = {f for f in fast.__dataclass_fields__ if getattr(fast, f) != getattr(paper, f)}
    rows = {r[0]: r for r in page_rows(site, "fidelity.html") if len(r) == 4}
    assert differ and differ == set(rows) - {"field"}
    for field in differ:
        assert rows[field][1:3] == [repr(getattr(fast, field)), repr(getattr(paper, field))]
        assert rows[field][3], f"no reason given for {field}"


def test_adding_a_row_is_the_only_step(tmp_path, monkeypatch):
    """A run appended to a result file is on the next rendering, newest first, with its provenance."""
    tables = _script("make_tables")
    shutil.copytree(RESULTS, tmp_path / "results")
    new = {"run": "a new run", "date": "2030-01-01", "command": "minipplug demo", "seed": 3, "threads": 2}
    new |= {"machine": "test", "source": "measured", "method": "pplug", "accuracy": 0.8771, "decoding": "generate"}
    with open(tmp_path / "results" / "demo.jsonl", "a") as f:
        f.write(json.dumps(new) + "\n")
    monkeypatch.setattr(tables, "RESULTS", tmp_path / "results")
    demo = tables.tables()["demo"]
    assert demo.startswith("**a new run**") and "| pplug | generate | 0.877 |" in demo and "seed: 3" in demo
    assert "| pplug | generate | 0.492 |" in demo  # the earlier run stays, below


def test_readme_demo_table_is_the_newest_demo_run():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- demo-table:start -->")[1].split("<!-- demo-table:end -->")[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in block.strip().splitlines()[2:]]
    demo = jsonl("demo.jsonl")
    newest = [r for r in demo if r["run"] == demo[-1]["run"]]
    assert [r[:2] for r in rows] == [[r["method"], f"{r['accuracy']:.3f}"] for r in newest], (
        "README's demo table differs from the newest run in benchmarks/results/demo.jsonl: "
        "run python docs/make_tables.py --readme"
    )


def test_readme_is_short_and_its_local_links_exist():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    targets = re.findall(r"\]\(([^)#\s]+)", text)
    local = [t for t in targets if not re.match(r"[a-z]+:", t)]
    assert "docs/architecture.png" in local
    assert [t for t in local if not (ROOT / t).exists()] == []


def layout(page: str, heading: str) -> list[str]:
    """The paths of a page's package tree (the first code block after the heading), from its indentation."""
    text = (ROOT / page).read_text(encoding="utf-8")
    block = text.split(heading)[1].split("```")[1]
    stack: list[str] = []
    paths = []
    for line in block.strip("\n").splitlines():
        depth = (len(line) - len(line.lstrip())) // 2
        stack[depth:] = [line.split()[0]]
        paths.append("".join(stack))
    return paths


def test_readme_layout_names_every_sub_package():
    """The README's short tree: every line exists, and every sub-package and top-level module has its line."""
    paths = layout("README.md", "## Layout")
    assert [p for p in paths if not (ROOT / p).exists()] == []
    top = {f"minipplug/{p.name}" + ("/" if p.is_dir() else "") for p in (ROOT / "minipplug").iterdir()}
    top = {t for t in top if not t.endswith(("__init__.py", "__main__.py", "__pycache__/"))}
    assert top - set(paths) == set()


def test_api_page_tree_is_the_package_file_by_file():
    """Every line of the API page's tree names a file or folder that exists, and every module has its line."""
    paths = layout("docs/api.md", "## The package, file by file")
    assert [p for p in paths if not (ROOT / p).exists()] == []
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "minipplug").rglob("*.py")}
    modules -= {m for m in modules if m.endswith(("__init__.py", "__main__.py"))}
    assert modules - set(paths) == set()


def test_readme_colab_links_use_the_repository_url():
    import tomllib

    url = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"https://colab\.research\.google\.com/github/([^)\s]+)", text)
    repo = url.removeprefix("https://github.com/")
    assert sorted(links) == [f"{repo}/blob/main/notebooks/{c}.ipynb" for c in CHAPTERS]


def test_every_chapter_is_a_page_with_its_title(site):
    for stem in CHAPTERS:
        nb = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8"))
        title = next(
            line[2:].strip()
            for c in nb["cells"]
            if c["cell_type"] == "markdown"
            for line in "".join(c["source"]).splitlines()
            if line.startswith("# ")
        )
        html = (site / "notebooks" / f"{stem}.html").read_text(encoding="utf-8")
        assert title.split("·")[-1].strip().replace("&", "&amp;") in html, stem


def test_no_local_link_or_image_is_broken(site):
    broken = _script("build").broken_links(site)
    assert broken == []


def test_the_link_walk_finds_a_broken_file_and_a_broken_anchor(tmp_path):
    (tmp_path / "a.html").write_text('<a id="top" href="b.html#here">b</a><img src="x.png"><a href="a.html#top">a</a>')
    (tmp_path / "b.html").write_text('<p id="elsewhere"></p><a href="https://example.org/missing">out</a>')
    assert sorted(_script("build").broken_links(tmp_path)) == ["a.html: b.html#here", "a.html: x.png"]


# ---------------------------------------------------------------- in a browser


def _chromium():
    """(chromium, chromedriver) paths, or skip with one line."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[dev]')")
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip("no chromium/chromedriver found (apt-get install chromium chromium-driver)")
    return browser, driver


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without a log line per request."""

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def served(site):
    """The built site over HTTP on 127.0.0.1, as GitHub Pages would serve it."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (root needs --no-sandbox), quit at the end."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = _chromium()
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=chromedriver))
    try:
        yield driver
    finally:
        driver.quit()


DECODED = "return Promise.all(Array.from(document.images).map(i => i.decode().catch(() => 0)))"
IMAGES = "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"
PAGES = ["index.html", "results.html", "reliability.html", "testing.html"] + [f"notebooks/{c}.html" for c in CHAPTERS]


def figures_in(page: str) -> int:
    """How many figures a page must show: a chapter's stored image outputs, or the pages' own figures."""
    if not page.startswith("notebooks/"):
        return {"index.html": 1, "results.html": 1, "reliability.html": 1, "testing.html": 1}[page]
    nb = json.loads((ROOT / page.replace(".html", ".ipynb")).read_text(encoding="utf-8"))
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    return sum("image/png" in o.get("data", {}) for o in outputs)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_every_figure_loaded(served, browser, page):
    browser.get(f"{served}/{page}")
    browser.execute_script(DECODED)  # waits until every image has loaded or failed
    images = browser.execute_script(IMAGES)
    assert browser.title and "404" not in browser.title
    assert browser.find_elements("css selector", "main h1"), f"{page}: no title rendered"
    local = [(src, ok, width) for src, ok, width in images if not re.match(r"[a-z]+:", src or "")]  # badges: offline
    content = [src for src, _, _ in local if "_static" not in src]
    assert len(content) >= figures_in(page), f"{page}: {len(content)} figures shown"
    assert [src for src, complete, width in local if not (complete and width > 0)] == []


def test_landing_page_screenshot(served, browser, tmp_path):
    browser.get(f"{served}/index.html")
    browser.execute_script(DECODED)
    shot = tmp_path / "site.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("MINIPPLUG_SITE_PNG"):
        shutil.copyfile(shot, ROOT / os.environ["MINIPPLUG_SITE_PNG"])


def test_api_page_documents_every_name_of_the_public_api(site):
    from minipplug import _API

    html = (site / "api.html").read_text(encoding="utf-8")
    missing = [n for n, module in _API.items() if f'id="minipplug.{module}.{n}"' not in html]
    assert missing == []


def _seed_summaries() -> dict[str, dict]:
    """The recorded compare --seeds runs, read here independently of the generator."""
    paths = sorted((RESULTS / "seeds").glob("*/summary.json"))
    return {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in paths}


def test_readme_claim_table_is_the_recorded_seed_runs():
    summaries = _seed_summaries()
    if not summaries:
        pytest.skip("no compare --seeds run recorded")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- claims-table:start -->")[1].split("<!-- claims-table:end -->")[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in block.strip().splitlines()[2:]]
    first = next(iter(summaries.values()))
    assert [r[0] for r in rows] == [f"{c['claim']} ({c['a']} − {c['b']})" for c in first["claims"]]
    for n, row in enumerate(rows):
        for cell_text, summary in zip(row[2:], summaries.values(), strict=True):
            claim = summary["claims"][n]
            assert cell_text.endswith(claim["verdict"]), "run python docs/make_tables.py --readme"
            if claim["measured"]:
                m = claim["measured"]
                mean, low, high = round(m["mean"], 3) + 0.0, round(m["low"], 2) + 0.0, round(m["high"], 2) + 0.0
                assert cell_text.startswith(f"{mean:+.3f} [{low:+.2f}, {high:+.2f}]")


def test_claim_cells_say_the_interval_and_never_minus_zero():
    tables = _script("make_tables")
    assert (
        tables.interval_cell({"mean": 0.25, "low": 0.1, "high": 0.4}, "holds here")
        == "+0.250 [+0.10, +0.40] holds here"
    )
    assert (
        tables.interval_cell({"mean": -0.0, "low": -0.001, "high": 0.0}, "cannot tell")
        == "+0.000 [+0.00, +0.00] cannot tell"
    )
    assert tables.interval_cell(None, "not run") == "not run"


def test_seed_runs_are_on_the_results_page_with_their_claims(site):
    summaries = _seed_summaries()
    if not summaries:
        pytest.skip("no compare --seeds run recorded")
    rows = page_rows(site, "results.html")
    for summary in summaries.values():
        for method in summary["methods"]:
            line = [method["method"], method["decoding"], f"{method['mean']:.3f}"]
            assert any(r[:3] == line for r in rows), line
        for claim in summary["claims"]:
            assert any(r[0] == claim["claim"] and r[-1] == claim["verdict"] for r in rows), claim["claim"]
