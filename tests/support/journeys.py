"""The citizen's journeys across devices (tests/browser/test_phone_journeys.py):
a centre whose clock the test sets on *today's* date, `motcua web` with the
fake SMS gateway, the phone's forms in chromium, the QR read off the phone's
screen, and a real kiosk window under Xvfb scanning it."""
from __future__ import annotations

import json
import shutil
import time
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

from selenium.webdriver.common.by import By

from support.browser import submit, wait
from support.centre_db import rows


def today_at(tz, hhmm: str) -> datetime:
    """Today (the site's time zone, by the real clock) at `hhmm`. The web process
    knows no clock but the real one (a call reaches only today's tickets' pages), so
    the centre's day must be the real day; the hour is the test's. Within two
    minutes of midnight it waits for the new day, so a test never straddles two."""
    now = datetime.now(tz)
    midnight = datetime.combine(now.date() + timedelta(days=1), clock_time(0), tzinfo=tz)
    if midnight - now < timedelta(minutes=2):
        time.sleep((midnight - now).total_seconds() + 2)
        now = datetime.now(tz)
    return datetime.combine(now.date(), clock_time.fromisoformat(hhmm), tzinfo=tz)


def every_day(slots_rule_days: str = "days = [1, 2, 3, 4, 5]") -> dict:
    """write_site's replacement that opens the sample's slots on every day of the
    week: the test runs today, whatever day that is."""
    return {slots_rule_days: "days = [1, 2, 3, 4, 5, 6, 7]"}


# -- the phone's side (chromium) ----------------------------------------------------------------

def error_text(driver) -> str:
    found = driver.find_elements(By.ID, "error")
    return found[0].text if found else ""


def last_code(gateway, phone84: str) -> str:
    """The one-time code the fake gateway received last for this phone (84…)."""
    sent = [b for b in gateway.delivered if b["template"] == "otp" and b["phone"] == phone84]
    assert sent, f"the gateway received no code for {phone84}"
    return sent[-1]["params"]["code"]


def ask_code(driver, server, path: str, phone: str, slot: str | None = None):
    """Open the form at `path`, pick the slot (the radio's value "YYYY-MM-DD HH:MM") if
    any, type the phone and ask for the code: the next page (the code's, or the form
    with a refusal)."""
    driver.get(server.url + path)
    if slot is not None:
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#slots input"), what="the slots")
        driver.find_element(By.CSS_SELECTOR, f"#slots input[value='{slot}']").click()
    driver.find_element(By.ID, "phone").send_keys(phone)
    submit(driver, "the page after asking for a code")


def confirm_code(driver, code: str):
    driver.find_element(By.ID, "code").clear()
    driver.find_element(By.ID, "code").send_keys(code)
    submit(driver, "the page after the code")


def qr_on_screen(driver, name: str) -> str:
    """Scroll the page's QR into view, take the screenshot and read the QR off it, as
    the kiosk's scanner reads the phone's screen."""
    from support.browser import decode_qr, shot
    driver.execute_script("document.getElementById('qr').scrollIntoView({block: 'center'})")
    found = decode_qr(shot(driver, name))
    assert len(found) == 1, f"{name}: {len(found)} QR codes read off the screen"
    return found[0]


def page_path(driver, server) -> str:
    return driver.current_url.split(server.url, 1)[1]


# -- the centre's database ----------------------------------------------------------------------


def written(site) -> dict:
    """What a request may write at the centre: bookings, tickets, phones, events."""
    return {table: rows(site, f"SELECT count(*) FROM {table}")[0][0]
            for table in ("bookings", "tickets", "phones", "events")}


# -- the kiosk window ---------------------------------------------------------------------------

def scan_at_kiosk(site, scans: list[dict], on_ask=None, size: str = "1080x1920") -> dict:
    """Scan each QR text at a real kiosk window under Xvfb (kiosk_scenarios.scan_phone_links):
    scans = [{"name", "text", "lang"?, "ask"?}]; `on_ask(name)` runs when a scan asks the
    test first. Gives what the kiosk showed for each (screen, ticket, status, print, cut).
    Its screenshots are kept as test-output/screens/kiosk-journey-<name>.png (each run
    of the scenario starts its folder afresh)."""
    from support.ui import SHOTS, run_scenario

    def signal(name, out):
        if on_ask is not None:
            on_ask(name)
    result = run_scenario("kiosk", site, "kiosk-1", "scan_phone_links", size,
                          env={"MOTCUA_TEST_SCANS": json.dumps(scans)}, on_signal=signal)
    for shot_path in result["shots"]:
        shot_path = Path(shot_path)
        shutil.copyfile(shot_path, SHOTS / f"kiosk-journey-{shot_path.name}")
    return result["checks"]


def report_holds(site, day: date):
    """The figures of numbers from afar and bookings of `motcua report` for that day."""
    from datetime import timezone

    from motcua.reports import build_report, resolve_period
    from motcua.store import Store
    period = resolve_period(day.isoformat(), day.isoformat(), day)
    store = Store(site.database)
    try:
        return build_report(store.db, site, period, by=None, now=datetime.now(timezone.utc)).holds
    finally:
        store.close()
