"""Debian's chromium driven by selenium through Debian's chromedriver: headless, a
phone's 360×780 window, nothing fetched from the network (no component updates,
no sync), screenshots in test-output/web/."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from support.broker import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PHONE = (360, 780)
SHOTS = ROOT / "test-output" / "web"


def start_chromium(profile: Path, javascript: bool = True):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        raise RuntimeError("Debian's chromium and chromium-driver are needed: apt-get install chromium "
                           "chromium-driver (make system-deps does)")
    profile.mkdir(parents=True, exist_ok=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-default-apps",
                "--disable-extensions", "--mute-audio", f"--user-data-dir={profile}",
                "--window-size=500,900", "--lang=vi"):
        opts.add_argument(arg)
    if os.geteuid() == 0:
        opts.add_argument("--no-sandbox")     # chromium refuses to run as root with its sandbox
    if not javascript:
        opts.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    # Headless chromium keeps its window at least 500 px wide: emulate the phone's
    # screen instead (the page's viewport, its media queries and the screenshots).
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True})
    return driver


def shot(driver, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


# -- reading and driving the phone's pages ------------------------------------------------------

def text(driver, element_id: str) -> str:
    from selenium.webdriver.common.by import By
    return driver.find_element(By.ID, element_id).text


def wait(driver, predicate, timeout: float = 10.0, what: str = ""):
    """Poll `predicate` until true. A page that reloads itself (no JavaScript: its meta
    refresh) replaces its document under the test's feet: a stale or missing element,
    or chromedriver's "unhandled inspector error" while the old document goes, is one
    more poll; a real failure ends as the timeout naming `what`."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout, poll_frequency=0.05, ignored_exceptions=(WebDriverException,)).until(
        lambda d: predicate(d), message=what)


def panel(driver) -> str:
    """The call's panel as one line (it shows the number and the counter on lines of their own)."""
    return " ".join(text(driver, "ptext").split())


def submit(driver, what: str, button: str = "main button[type=submit]"):
    """Press the form's button and wait for the next page (a round trip to the centre)."""
    from selenium.webdriver.common.by import By
    before = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, button).click()
    wait(driver, lambda d: before.id != d.find_element(By.TAG_NAME, "html").id, timeout=15, what=what)


def phone_server(site):
    """`motcua web` for the site with the fake SMS gateway: (server, gateway)."""
    from motcua.web import site_app
    from motcua.web.links import token_reader
    from motcua.web.notify import WebhookNotifier
    from support.fake_gateway import FakeGateway
    from support.web import WebServer, web_device, web_secret
    gateway = FakeGateway().start()
    server = WebServer(site_app(site, web_device(site), token_reader({site.id: web_secret(site)}),
                                notifier=WebhookNotifier(gateway.url, gateway.token, timeout_s=2))).start()
    server.wait_ready(site.id)
    return server, gateway


def decode_qr(png) -> list[str]:
    """The QR codes read off a screenshot (zxing-cpp), as a scanner reads a phone's screen."""
    import zxingcpp
    from PIL import Image
    return [r.text for r in zxingcpp.read_barcodes(Image.open(png))]
