"""A real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium) logs in
to the board served by waitress, assigns a review item and sees its slot change.

Nothing here may wait for ever: the whole test (fixtures included) has TEST_SECONDS, starting
chromedriver and Chromium has START_SECONDS of it, a page load, a script and each explicit wait
have their own bounds, and Chromium is told to do no background network work. When a bound
runs out, the browser's processes are killed and the test fails with one line saying what
did not answer (and where chromedriver's log is)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path
from types import FrameType
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

TEST_SECONDS = 60  # one whole test, its fixtures included (it takes ~8 s on a quiet machine)
START_SECONDS = 30  # chromedriver up and a Chromium session open
PAGE_LOAD_SECONDS = 20  # WebDriver page-load timeout
SCRIPT_SECONDS = 5  # WebDriver script timeout
WAIT_SECONDS = 20  # each explicit wait (WebDriverWait); no implicit wait (0, said explicitly)

# Flags that keep a test browser from phoning home or waiting on anything but the board.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-proxy-server",
    "--metrics-recording-only",
    "--password-store=basic",
    "--use-mock-keychain",
    "--lang=zh-CN",
)

_started: list[tuple[Any, Path]] = []  # chromedriver services this test started, their logs


def _kill_browsers() -> None:
    """Kill every chromedriver this test started, with its Chromium (own process groups)."""
    for service, _ in _started:
        process = getattr(service, "process", None)
        if process is not None and process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def deadline(seconds: float, what: str) -> Iterator[None]:
    """Fail the test with one line if the block takes longer than `seconds` (SIGALRM in the
    main thread, so a call stuck on a socket is interrupted too). Nested, the inner one never
    outlives the outer one, and the outer one keeps counting."""
    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer_left and outer_left <= seconds:
        yield  # the outer deadline comes first and speaks
        return
    started = time.monotonic()

    def expired(signum: int, frame: FrameType | None) -> None:
        _kill_browsers()
        logs = ", ".join(str(log) for _, log in _started)
        pytest.fail(
            f"{what}: no answer within {seconds:g} s (browser killed"
            + (f"; chromedriver log: {logs})" if logs else ")"),
            pytrace=True,
        )

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:
            left = outer_left - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))


@pytest.fixture(autouse=True)
def bounded() -> Iterator[None]:
    """The whole test, fixtures included, within TEST_SECONDS."""
    try:
        with deadline(TEST_SECONDS, "the browser test"):
            yield
    finally:
        _kill_browsers()
        _started.clear()


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


def chrome(profile: Path, width: int = 1280, height: int = 900) -> Any:
    """A headless Chromium on a fresh profile, started within START_SECONDS, with its
    WebDriver page-load and script timeouts set (and no implicit wait)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (*CHROMIUM_FLAGS, f"--window-size={width},{height}", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    profile.mkdir(parents=True, exist_ok=True)
    log = profile.parent / "chromedriver.log"
    service = Service(
        executable_path=str(DRIVER),
        log_output=str(log),
        popen_kw={"start_new_session": True},  # its own process group: killed whole on a hang
    )
    _started.append((service, log))
    with deadline(START_SECONDS, "starting chromedriver and Chromium"):
        driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(PAGE_LOAD_SECONDS)
    driver.set_script_timeout(SCRIPT_SECONDS)
    driver.implicitly_wait(0)  # find_element answers at once; waiting is wait_for's, bounded
    return driver


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    driver = chrome(tmp_path / "chromium-profile")
    yield driver
    if driver.service.process.poll() is None:  # not killed at a deadline
        with deadline(START_SECONDS, "closing Chromium"):
            driver.quit()


def wait_for(driver: Any, css: str) -> Any:
    """The element, once the page that has it has loaded (a loaded machine can be slow)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_SECONDS).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def submit(driver: Any, form: Any) -> None:
    """Submit and wait until the next page replaced this one."""
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    button = form.find_element("css selector", "button[type=submit]")
    button.click()
    WebDriverWait(driver, WAIT_SECONDS).until(ec.staleness_of(button))


def login(driver: Any, base: str, name: str = "clerk") -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/review")
    assert "/login" in driver.current_url
    driver.find_element(By.NAME, "username").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(PASSWORDS[name])
    submit(driver, driver.find_element(By.CSS_SELECTOR, "main form"))


def test_a_clerk_logs_in_assigns_a_review_item_and_sees_the_slot_change(
    board: str, browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = browser
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


def test_a_stuck_call_fails_in_one_line_within_its_deadline() -> None:
    """What a hang becomes: a read that never gets an answer is cut at its deadline, with
    one line naming what did not answer, and the whole test's deadline keeps counting."""
    left_before, _ = signal.getitimer(signal.ITIMER_REAL)
    assert 0 < left_before <= TEST_SECONDS  # the autouse fixture's bound is armed
    a, b = socket.socketpair()
    started = time.monotonic()
    with (
        a,
        b,
        pytest.raises(pytest.fail.Exception, match=r"^a stuck read: no answer within 1 s"),
        deadline(1, "a stuck read"),
    ):
        a.recv(1)  # nobody ever writes to b
    assert time.monotonic() - started < 5
    left_after, _ = signal.getitimer(signal.ITIMER_REAL)
    assert 0 < left_after < left_before


def test_a_page_that_never_answers_times_out_instead_of_hanging(browser: Any) -> None:
    """A server that accepts the connection and never answers (a stuck board): the page
    load gives up at the WebDriver page-load timeout instead of waiting for ever."""
    from selenium.common.exceptions import TimeoutException

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)  # the kernel accepts; nobody reads or answers
        browser.set_page_load_timeout(2)
        started = time.monotonic()
        with pytest.raises(TimeoutException):
            browser.get(f"http://127.0.0.1:{silent.getsockname()[1]}/review")
        assert time.monotonic() - started < 15
