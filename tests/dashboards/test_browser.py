"""The app served as `make serve` serves it, driven by headless Debian Chromium: the user logs in,
every page loads (through the sidebar navigation of the logged-in session), shows its numbers,
renders its charts, fetches nothing from outside the machine, and is screenshotted.

Screenshots go to tmp_path; with RW_UPDATE_SCREENSHOTS=1 they replace docs/screenshots/*.png.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from fixture_warehouse import build_fixture_warehouse, publish

from pipelines import users

REPO = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
LOGIN_PASSWORD = "browser-test-password"

# url_path (app.py) -> texts the page must show (metrics and captions are DOM text; table cells are
# drawn on a canvas, so they are asserted in the AppTests instead)
PAGES = {
    "overview": [
        "数据发布时间：2025-07-02 10:00",
        "基层诊疗量占比",
        "61.1%",
        "+2.8 个百分点",
        "目标 ≥ 65% · 未达标",
    ],
    "referrals": ["上转退回率", "40.0%", "下转后24小时家庭医生联系率", "73.7%", "级别间流向"],
    "institutions": ["区县排名 · 基层诊疗量占比 · 2025-06", "区县下钻：区县内各机构的全部指标"],
    "chronic": ["高血压规范管理率", "46.0%", "该转未转病例"],
    "slots": ["号源下沉预留比例", "21.6%", "下沉号源使用率", "5.8%"],
    "quality": [
        "标准化前 → 后",
        "质量维度 × 数据源",
        "质量评分卡",
        "检查历史",
        "隔离区",
        "未映射术语",
        "数据集市适用性",
    ],
    "ingestion": ["收到文件", "已拒收", "数据源新鲜度"],
}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
        reason="Debian chromium + chromedriver missing: run `make browser-deps`",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit not healthy at {url} after {timeout}s")


@pytest.fixture
def served_app(tmp_path):
    """`streamlit run dashboards/app.py` with RW_DATA_DIR at a data dir holding the fixture snapshot."""
    data_dir = tmp_path / "data"
    snapshot = build_fixture_warehouse(data_dir / "published" / "snapshots" / "run-20250702.duckdb")
    publish(data_dir / "published", snapshot)
    users.add_user("demo_engineer", "engineer", LOGIN_PASSWORD, app_dir=data_dir / "app")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RW_")}
    env.update(RW_DATA_DIR=str(data_dir), HOME=str(tmp_path))
    streamlit = Path(sys.executable).with_name("streamlit")
    log = (tmp_path / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [str(streamlit), "run", "dashboards/app.py", "--server.headless", "true", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                "--window-size=1400,2000", "--lang=zh-CN", f"--user-data-dir={tmp_path / 'chrome-profile'}"):  # fmt: skip
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _requested_urls(driver) -> set[str]:
    urls = set()
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.add(msg["params"]["request"]["url"])
    return urls


# charts each page draws on first view (Vega-Lite, bundled): overview trend; referrals level matrix,
# monthly, return reasons, timeliness; ranking; quality: before -> after per source, the Kahn x source
# heat map and the scorecard (the history chart is in a hidden tab)
CHARTS = {"overview": 1, "referrals": 4, "institutions": 1, "quality": 3}


def _drawn_charts(driver) -> int:
    from selenium.webdriver.common.by import By

    return sum(
        1
        for c in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"]')
        if c.is_displayed() and c.find_elements(By.CSS_SELECTOR, "canvas, svg")
    )


def test_every_page_in_headless_chromium(served_app, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    shots = (
        REPO / "docs" / "screenshots"
        if os.environ.get("RW_UPDATE_SCREENSHOTS") == "1"
        else tmp_path / "shots"
    )
    shots.mkdir(parents=True, exist_ok=True)
    seen: dict[str, str] = {}
    charts: dict[str, int] = {}
    # log in: a session holds the login, so the pages are opened through the sidebar navigation
    browser.get(served_app)
    wait = WebDriverWait(browser, 45, poll_frequency=0.25)
    wait.until(lambda d: "请登录" in d.find_element(By.TAG_NAME, "body").text, message="login form")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, 'input[type="password"]')), message="inputs")
    assert "基层诊疗量占比" not in browser.find_element(By.TAG_NAME, "body").text
    browser.find_element(By.CSS_SELECTOR, 'input[type="text"]').send_keys("demo_engineer")
    browser.find_element(By.CSS_SELECTOR, 'input[type="password"]').send_keys(LOGIN_PASSWORD)
    next(b for b in browser.find_elements(By.TAG_NAME, "button") if b.text.strip() == "登录").click()
    wait.until(
        lambda d: "当前用户：demo_engineer" in d.find_element(By.TAG_NAME, "body").text, message="login"
    )
    for url_path, texts in PAGES.items():
        href = served_app + ("/" if url_path == "overview" else f"/{url_path}")  # the default page is at /
        link = next(
            a
            for a in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNavLink"]')
            if a.get_attribute("href").rstrip("/") == href.rstrip("/")
        )
        link.click()
        wait = WebDriverWait(browser, 45, poll_frequency=0.25)
        for text in texts:
            wait.until(
                lambda d, t=text: t in d.find_element(By.TAG_NAME, "body").text, message=f"{url_path}: {text}"
            )
        # the script run is over (no "Running…" widget) and every chart has been drawn
        wait.until(ec.invisibility_of_element_located((By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')))
        want = CHARTS.get(url_path, 0)
        wait.until(lambda d, n=want: _drawn_charts(d) >= n, message=f"{url_path}: {want} charts")
        charts[url_path] = _drawn_charts(browser)
        time.sleep(0.5)  # let the last chart finish its paint before the screenshot
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "Traceback" not in body and "Page not found" not in body, body[:2000]
        assert browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]') == []
        assert browser.save_screenshot(str(shots / f"{url_path}.png"))
        seen[url_path] = body
    assert charts == {p: CHARTS.get(p, 0) for p in PAGES}, charts
    # sidebar navigation shows every page title, in Chinese
    for title in ("总览", "转诊流向", "机构与区县", "慢病管理", "号源下沉", "数据质量", "数据接入"):
        assert title in seen["overview"]
    # nothing was fetched from outside this machine: charts and fonts are bundled
    urls = _requested_urls(browser)
    assert any(u.startswith(f"{served_app}/static/") for u in urls)  # the bundled frontend was loaded
    external = {
        u for u in urls if u.startswith(("http:", "https:", "ws:", "wss:")) and not u.startswith(served_app)
    }
    assert external == set()
    assert sorted(p.name for p in shots.glob("*.png")) == sorted(f"{p}.png" for p in PAGES)
    if shots != tmp_path / "shots":
        shutil.rmtree(tmp_path / "shots", ignore_errors=True)
