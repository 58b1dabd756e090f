"""Screenshots of the staff board (/, /review and a unit page) at desktop and phone width.

    .venv/bin/python docs/make_board_screenshots.py [--out docs]

Builds the demo workspace in a temporary folder (the sample mails through the real intake),
serves the board as of 30 June 2023 with waitress, logs in with headless Chromium (Debian's
chromium + chromium-driver, driven by Selenium) and writes board-<page>-<desktop|phone>.png.
Needs a CJK font (fonts-noto-cjk) for readable Chinese.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker.clock import FixedClock  # noqa: E402
from tracker.demo import DEMO_PASSWORD, DEMO_USER, make_workspace, open_demo  # noqa: E402
from tracker.pollstate import note_poll  # noqa: E402
from tracker.users import add_user  # noqa: E402
from tracker.web.serve import make_server  # noqa: E402

AS_OF = date(2023, 6, 30)
PAGES = (("overview", "/"), ("review", "/review"), ("unit", "/units/县林业局"))
SIZES = (("desktop", 1280, 800, 1, False), ("phone", 390, 844, 2, True))
MAX_HEIGHT = 6000


def chrome() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"):
        options.add_argument(arg)
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def shoot(
    driver: Any, url: str, out: Path, width: int, height: int, scale: int, mobile: bool
) -> None:
    metrics = {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.get(url)
    full = int(driver.execute_script("return document.documentElement.scrollHeight"))
    metrics["height"] = min(max(full, height), MAX_HEIGHT)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.save_screenshot(str(out))
    print(f"wrote {out} ({width}x{metrics['height']} css px)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    from selenium.webdriver.common.by import By

    with tempfile.TemporaryDirectory() as tmp:
        ws = make_workspace(Path(tmp) / "demo")
        app = open_demo(ws)
        clock = FixedClock.at_date(AS_OF, app.config.timezone)
        app.recorder(clock).poll_once(app.source())
        note_poll(app.db, clock.now(), 0, 0)
        with app.db.session() as s:
            add_user(s, DEMO_USER, "clerk", DEMO_PASSWORD, clock.now())
        server: Any = make_server(app, "127.0.0.1", 0, clock=clock)
        threading.Thread(target=server.run, daemon=True).start()
        base = f"http://127.0.0.1:{server.effective_port}"
        driver = chrome()
        try:
            driver.get(f"{base}/login")
            driver.find_element(By.NAME, "username").send_keys(DEMO_USER)
            driver.find_element(By.NAME, "password").send_keys(DEMO_PASSWORD)
            driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
            for name, path in PAGES:
                for size, width, height, scale, mobile in SIZES:
                    out = args.out / f"board-{name}-{size}.png"
                    shoot(driver, base + path, out, width, height, scale, mobile)
        finally:
            driver.quit()
            server.close()
            app.close()


if __name__ == "__main__":
    main()
