"""A real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium) logs in
to the board served by waitress, assigns a review item and sees its slot change."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.web_helpers import PASSWORDS, make_workspace
from tracker.app import App
from tracker.clock import FixedClock
from tracker.web.serve import make_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver") or (
    "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)",
)


@pytest.fixture
def board(tmp_path: Path) -> Iterator[str]:
    config = make_workspace(tmp_path / "ws")
    app = App.from_path(config)
    server: Any = make_server(app, "127.0.0.1", 0, clock=FixedClock.at_date(date(2023, 6, 30)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    app.close()


def chrome(width: int = 1280, height: int = 900) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--lang=zh-CN",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)


def wait_for(driver: Any, css: str) -> Any:
    """The element, once the page that has it has loaded (a loaded machine can be slow)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 60).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def submit(driver: Any, form: Any) -> None:
    """Submit and wait until the next page replaced this one."""
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    button = form.find_element("css selector", "button[type=submit]")
    button.click()
    WebDriverWait(driver, 60).until(ec.staleness_of(button))


def login(driver: Any, base: str, name: str = "clerk") -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/review")
    assert "/login" in driver.current_url
    driver.find_element(By.NAME, "username").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(PASSWORDS[name])
    submit(driver, driver.find_element(By.CSS_SELECTOR, "main form"))


def test_a_clerk_logs_in_assigns_a_review_item_and_sees_the_slot_change(board: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = chrome()
    try:
        login(driver, board)
        assert driver.current_url == f"{board}/review"
        assert "待核邮件" in wait_for(driver, "h1").text

        driver.get(f"{board}/units/河口镇")
        row = driver.find_element(By.XPATH, "//td[contains(., '2023年5月')]/..")
        assert "未报送" in row.text

        driver.get(f"{board}/review")
        item = driver.find_element(By.ID, "m10")
        form = item.find_element(By.CSS_SELECTOR, "form[action='/messages/10/assign']")
        unit = form.find_element(By.NAME, "unit")
        unit.clear()
        unit.send_keys("河口乡")  # a near miss: refused with a suggestion
        Select(form.find_element(By.NAME, "period")).select_by_value("2023-05")
        submit(driver, form)
        assert "是不是：河口镇" in wait_for(driver, ".flash.error").text

        form = driver.find_element(By.CSS_SELECTOR, "#m10 form[action='/messages/10/assign']")
        unit = form.find_element(By.NAME, "unit")
        unit.clear()
        unit.send_keys("湘潭县河口镇")
        Select(form.find_element(By.NAME, "period")).select_by_value("2023-05")
        submit(driver, form)
        assert "已指定为 河口镇 2023-05" in wait_for(driver, ".flash.ok").text
        assert not driver.find_elements(By.ID, "m10")

        driver.get(f"{board}/units/河口镇")
        row = driver.find_element(By.XPATH, "//td[contains(., '2023年5月')]/..")
        assert "已报送" in row.text and "#10" in row.text
        # no script ran anywhere: the board has none, and the CSP forbids it
        assert driver.execute_script("return document.scripts.length") == 0
    finally:
        driver.quit()
