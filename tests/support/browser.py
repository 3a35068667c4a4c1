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
