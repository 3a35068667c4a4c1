"""What the UI tests of the kiosk, the displays and the counter terminal share.

Test side: `run_scenario` runs one scenario of tests/support/<kind>_scenarios.py in a real
app window under Xvfb (tests/support/kivy_driver.py) and answers the scenario's requests
(files it writes in its output folder); `first_ask`.
App side (imported by the scenarios): `ask_test`, `cut_labels` (= `overflowing_labels`
+ `shortened_labels`).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "screens"


# -- the test's side ----------------------------------------------------------------------

def run_scenario(kind: str, site, device: str, scenario: str, size: str, *, timeout: int = 120,
                 env: dict | None = None, on_signal=None, min_shot_bytes: int = 10_000) -> dict:
    """Run `scenario` in the `kind` app (kiosk, display, counter) as `device` at `size`;
    screenshots go to test-output/screens/<kind>-<scenario>-<size>/. A file the
    scenario writes there (a name without a dot) is handed to on_signal(name, out),
    and `<name>.done` is written once it returns. Returns the scenario's result."""
    import pytest
    out = SHOTS / f"{kind}-{scenario}-{size}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 2000x2000x24", sys.executable,
           str(ROOT / "tests" / "support" / "kivy_driver.py"), kind, str(site.path), device, str(out), scenario, size]
    # its own process group: on a timeout the app and its Xvfb go too, not just xvfb-run
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            start_new_session=True, env={**os.environ, **(env or {})})
    stop = threading.Event()
    errors: list[BaseException] = []

    def watch():
        handled = set()
        while not stop.is_set():
            for f in list(out.iterdir()) if out.exists() else ():
                if f.name in handled or "." in f.name or f.name == "result" or not f.is_file():
                    continue
                handled.add(f.name)
                try:
                    on_signal(f.name, out)
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)
                done = out / f"{f.name}.done"
                if not done.exists():
                    done.write_text(str(time.time()))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    if on_signal is not None:
        watcher.start()
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        pytest.fail(f"the {kind} scenario {scenario} hung for {timeout} s:\n{stderr[-4000:]}")
    finally:
        stop.set()
        if watcher.is_alive():
            watcher.join(5)
    if errors:
        raise errors[0]
    result_file = out / "result.json"
    assert result_file.exists(), f"the {kind} did not finish the scenario:\n{stderr[-4000:]}"
    result = json.loads(result_file.read_text())
    assert result["error"] is None, result["error"] + "\n" + stderr[-3000:]
    for shot in result["shots"]:
        assert Path(shot).stat().st_size > min_shot_bytes, f"{shot} looks empty"
    return result


def first_ask(client, op: str, **args) -> dict:
    """The first request after the centre connected: it may not have subscribed yet, so
    ask again with the same request id (the centre answers a repeated id only once)."""
    from motcua.mqtt import CentreUnavailable
    for attempt in range(10):
        try:
            return client.request(op, timeout=1, request_id=f"first-{op}", **args)
        except CentreUnavailable:
            if attempt == 9:
                raise


# -- the app's side (in the scenarios) ---------------------------------------------------------

def ask_test(d, name: str, timeout: float = 30):
    """Ask the test for something (a file `name` in the output folder) and wait for
    `name`.done; gives the time the test wrote it."""
    out: Path = d.outdir
    (out / name).write_text(str(time.time()))
    done = out / f"{name}.done"
    yield from d.until(done.exists, timeout=timeout, what=f"the test to do {name}")
    return float(done.read_text())


def _labels(root):
    from kivy.uix.label import Label
    stack = [root]
    while stack:
        w = stack.pop()
        stack.extend(w.children)
        if isinstance(w, Label) and w.text and w.opacity > 0 and w.height > 2 and w.width > 2:
            yield w


def overflowing_labels(root) -> list[str]:
    """Visible labels whose text is wider or taller than the label: cut off on screen."""
    bad = []
    for w in _labels(root):
        tw, th = w.texture_size
        if tw > w.width + 2 or th > w.height + 2:
            bad.append(f"{w.text!r}: text {tw:.0f}x{th:.0f} in {w.width:.0f}x{w.height:.0f}")
    return bad


def shortened_labels(root) -> list[str]:
    """Labels laid out within their size that lose text there: cut short with an
    ellipsis (`shorten`), or wrapped to more lines than their height holds (Kivy
    drops the lines that do not fit, so the texture never looks too big and
    overflowing_labels cannot see them)."""
    from kivy.core.text import Label as CoreLabel
    from kivy.core.text.markup import MarkupLabel
    bad = []
    for w in _labels(root):
        if w.shorten:
            # Kivy's own verdict: it shortens text within 2 px of the edge too, which a
            # comparison of widths with some slack missed ("~12 p…" in a 79 px column)
            if w.is_shortened:
                bad.append(f"{w.text!r} shortened to fit {w.width:.0f} wide")
            continue
        bound = w.text_size[0]
        if bound is None:
            continue   # not laid out within a width: overflowing_labels judges it
        full = (MarkupLabel if w.markup else CoreLabel)(
            text=w.text, font_size=w.font_size, font_name=w.font_name, bold=w.bold, italic=w.italic,
            padding=w.padding, text_size=(bound, None), halign=w.halign)
        full.refresh()
        if full.texture.size[1] > w.height + 2:
            bad.append(f"{w.text!r} cut: wraps to {full.texture.size[1]:.0f} high in {w.height:.0f}")
    return bad


def cut_labels(root) -> list[str]:
    """Every visible label that does not show all its text: too big for its place,
    shortened with an ellipsis, or wrapped beyond its height."""
    return overflowing_labels(root) + shortened_labels(root)
