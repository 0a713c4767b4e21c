"""Notebook 05 as people open it: JupyterLab in a real (headless) Chromium, Run All, then the explorer widget.

Selenium drives Debian's ``chromium`` with its ``chromedriver`` (both from apt; .ci/run installs them). The test
works on a temporary copy of notebooks/, so no outputs are written into the repository, and always ends
JupyterLab (with its kernel) and the browser. It finds the explorer by structure (the Dropdown described
"user"), not by cell index, so notebook 05 may be rewritten freely as long as it shows ``explorer.widget()``.

Timings are printed (run with -s to see them). With MINIPPLUG_EXPLORER_PNG=docs/explorer.png the screenshot of
the rendered explorer is also copied there.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "05_embeddings.ipynb"
START_TIMEOUT = 120  # JupyterLab up
RUN_TIMEOUT = 2400  # Run All: a hang guard
WIDGET_TIMEOUT = 180  # one explorer selection: two label rankings on the LLM


def _find(*names: str) -> str | None:
    for name in names:
        path = shutil.which(name) or (name if os.path.isabs(name) and os.access(name, os.X_OK) else None)
        if path:
            return path
    return None


def _tools() -> tuple[str, str]:
    """(chromium, chromedriver), or skip with a one-line reason."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[dev]')")
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        pytest.skip("jupyterlab is not installed (pip install -e '.[dev]')")
    browser = _find(
        os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome", "/usr/lib/chromium/chromium"
    )
    driver = _find(os.environ.get("CHROMEDRIVER", ""), "chromedriver", "/usr/lib/chromium/chromedriver")
    if not browser or not driver:
        pytest.skip("no chromium/chromedriver found (apt-get install chromium chromium-driver)")
    return browser, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """End a process group we started (JupyterLab and its kernels): TERM, then KILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=15)


def _write_settings(settings: Path) -> None:
    """User settings for this JupyterLab only: every cell in the DOM, no news/update pop-ups."""
    files = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
    }
    for rel, body in files.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(body), encoding="utf-8")


@pytest.fixture(scope="module")
def lab(tmp_path_factory, request):
    """A JupyterLab on 127.0.0.1 (free port, random token) serving a temporary copy of notebooks/; notebook 05
    then loads the shared plug (notebook_plug) instead of training it."""
    _tools()  # skips first: without a browser nothing is trained
    request.getfixturevalue("notebook_plug")
    base = tmp_path_factory.mktemp("lab")
    work = base / "notebooks"
    work.mkdir()
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy2(nb, work / nb.name)
    for files in (ROOT / "notebooks").glob("*_files"):  # the exercises' otter checks, read by grader.check
        shutil.copytree(files, work / files.name)
    _write_settings(base / "settings")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env.update(
        {
            "MINIPPLUG_THREADS": env.get("MINIPPLUG_TEST_THREADS", "1"),
            "HF_HUB_OFFLINE": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
            "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
            "JUPYTER_CONFIG_DIR": str(base / "config"),  # no personal config (password, extensions) gets in the way
            "JUPYTER_DATA_DIR": str(base / "data"),
        }
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={work}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run commands, read cell models
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log = open(base / "jupyterlab.log", "wb")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"JupyterLab exited with {proc.returncode}:\n{(base / 'jupyterlab.log').read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() - t0 > START_TIMEOUT:
                pytest.fail(
                    f"JupyterLab not up after {START_TIMEOUT}s:\n{(base / 'jupyterlab.log').read_text()[-3000:]}"
                )
            time.sleep(0.5)
        started = time.monotonic() - t0
        print(f"\n[browser] JupyterLab started in {started:.1f}s")
        yield {
            "url": url,
            "token": token,
            "work": work,
            "base": base,
            "start_s": started,
            "log": base / "jupyterlab.log",
        }
    finally:
        _stop(proc)
        log.close()


@pytest.fixture(scope="module")
def browser(lab):
    """Headless Chromium driven by chromedriver, quit at the end whatever happens."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = _tools()
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1200",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-extensions",
    ]:
        opts.add_argument(arg)
    driver = webdriver.Chrome(
        options=opts, service=Service(executable_path=chromedriver, log_output=str(lab["base"] / "chromedriver.log"))
    )
    try:
        driver.set_script_timeout(60)
        yield driver
    finally:
        driver.quit()


def _wait(what: str, timeout: float, probe, interval: float = 0.5):
    """Poll ``probe()`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    t0, last = time.monotonic(), None
    while time.monotonic() - t0 < timeout:
        try:
            last = probe()
        except Exception as err:  # the page may be re-rendering: try again
            last = err
        else:
            if last:
                return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


# JavaScript run in the page: the current notebook's state, from JupyterLab's own models.
NOTEBOOK_STATE = """
const app = window.jupyterapp;
if (!app) return null;
const panel = app.shell.currentWidget;
if (!panel || !panel.content || !panel.sessionContext) return null;
const ctx = panel.sessionContext;
const cells = panel.content.widgets.filter(c => c.model.type === 'code');
const errors = [];
for (const c of cells) {
  for (const o of c.model.outputs.toJSON()) {
    if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue);
  }
}
return {
  ready: ctx.isReady,
  kernel: ctx.session && ctx.session.kernel ? ctx.session.kernel.status : null,
  kernelName: ctx.session && ctx.session.kernel ? ctx.session.kernel.name : null,
  path: panel.context.path,
  cells: cells.length,
  counts: cells.map(c => c.model.executionCount),
  pending: cells.filter(c => (c.promptNode && c.promptNode.textContent.includes('*'))).length,
  errors: errors,
};
"""


def _state(driver) -> dict | None:
    return driver.execute_script(NOTEBOOK_STATE)


def _explorer_parts(driver):
    """(container, user select, query select) of the explorer: the widget box holding a Dropdown described 'user'."""
    from selenium.webdriver.common.by import By

    for dropdown in driver.find_elements(By.CSS_SELECTOR, ".widget-dropdown"):
        labels = dropdown.find_elements(By.CSS_SELECTOR, "label")
        if labels and labels[0].text.strip() == "user":
            # The explorer's root: the nearest VBox above the dropdown that also holds an Output area.
            container = dropdown.find_element(
                By.XPATH, "./ancestor::div[contains(@class,'widget-vbox')][.//div[contains(@class,'widget-output')]][1]"
            )
            query = container.find_element(
                By.XPATH, ".//div[contains(@class,'widget-dropdown')][label[normalize-space()='query']]//select"
            )
            return container, dropdown.find_element(By.TAG_NAME, "select"), query
    return None


def _view(container) -> dict:
    """What the explorer shows: its text (labels, answers) and the attention image."""
    from selenium.webdriver.common.by import By

    imgs = container.find_elements(By.CSS_SELECTOR, ".widget-output img")
    return {"text": container.text, "image": imgs[0].get_attribute("src") if imgs else None}


def test_explorer_in_jupyterlab(lab, browser):
    from selenium.webdriver.support.ui import Select

    driver = browser
    t0 = time.monotonic()
    driver.get(f"{lab['url']}/lab/tree/{NOTEBOOK}?token={lab['token']}")
    state = _wait(
        "the notebook open with an idle kernel",
        START_TIMEOUT,
        lambda: (s := _state(driver)) and s["ready"] and s["kernel"] == "idle" and s["path"].endswith(NOTEBOOK) and s,
    )
    assert state["kernelName"] == "python3", state
    opened = time.monotonic() - t0
    print(f"[browser] notebook open, kernel idle in {opened:.1f}s")

    t0 = time.monotonic()
    # Not awaited: execute_script would wait on the returned promise, i.e. for the whole run.
    driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells'); return true;")

    def finished():
        s = _state(driver)
        if s["errors"]:
            return s  # a failed cell: the kernel drops the rest of the queue
        done = s["kernel"] == "idle" and s["pending"] == 0 and all(c is not None for c in s["counts"])
        return s if done else None

    state = _wait("Run All to finish", RUN_TIMEOUT, finished, interval=2)
    # Idle between two cells can look finished: confirm a moment later.
    time.sleep(3)
    state = _wait("Run All to finish", RUN_TIMEOUT, finished, interval=2)
    ran = time.monotonic() - t0
    print(f"[browser] Run All took {ran:.1f}s ({state['cells']} code cells)")
    assert not state["errors"], f"cells failed in the browser: {state['errors']}\n" + lab["log"].read_text()[-3000:]

    parts = _wait("the explorer widget (a Dropdown described 'user')", WIDGET_TIMEOUT, lambda: _explorer_parts(driver))
    container, user_sel, query_sel = parts
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", container)
    before = _wait(
        "the explorer's first view (answers and chart)",
        WIDGET_TIMEOUT,
        lambda: (v := _view(container)) and v["image"] and "with the plug:" in v["text"] and v,
    )
    users = [o.get_attribute("value") for o in Select(user_sel).options]
    assert len(users) >= 2, f"the explorer offers {len(users)} users"
    shot = lab["base"] / "explorer.png"

    # Another user: the query label, the answers and the attention chart follow.
    Select(user_sel).select_by_index(1)
    after_user = _wait(
        "the explorer to show the second user",
        WIDGET_TIMEOUT,
        lambda: (
            (v := _view(container))
            and v["image"]
            and v["image"] != before["image"]
            and v["text"] != before["text"]
            and "with the plug:" in v["text"]
            and v
        ),
    )
    assert Select(user_sel).first_selected_option.text.strip() in after_user["text"]

    # Another query of that user.
    queries = Select(query_sel).options
    assert len(queries) >= 2, f"the second user has {len(queries)} queries"
    Select(query_sel).select_by_index(1)
    after_query = _wait(
        "the explorer to show the second query",
        WIDGET_TIMEOUT,
        lambda: (
            (v := _view(container))
            and v["image"]
            and v["image"] != after_user["image"]
            and v["text"] != after_user["text"]
            and v
        ),
    )
    assert "with the plug:" in after_query["text"]
    time.sleep(1)  # let the image paint before the screenshot
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", container)
    container.screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    target = os.environ.get("MINIPPLUG_EXPLORER_PNG")
    if target:
        shutil.copyfile(shot, target)
        print(f"[browser] explorer screenshot copied to {target}")
    print(f"[browser] JupyterLab start {lab['start_s']:.1f}s, open {opened:.1f}s, Run All {ran:.1f}s")
    # Nothing was written into the repository's notebooks.
    assert lab["work"] != ROOT / "notebooks"
