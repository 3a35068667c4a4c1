"""Measuring helpers shared by the benchmarks of the Kivy apps."""
from __future__ import annotations

from pathlib import Path


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile by nearest rank."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def rss_mb() -> float:
    """This process's resident memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def software_gl_mb() -> float:
    """Resident memory of Mesa's software renderer (llvmpipe) and the X shared
    memory: what a machine with a GPU driver does not carry."""
    total, name = 0, ""
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if parts and "-" in parts[0] and len(parts) >= 5:
            name = parts[5] if len(parts) > 5 else ""
        elif parts and parts[0] == "Rss:" and any(k in name for k in ("libLLVM", "swrast", "SYSV")):
            total += int(parts[1])
    return total / 1024


def python_speed_s() -> float:
    """Seconds for 10 million additions in a Python loop: this machine's speed at
    the moment (a virtual machine's varies by half from hour to hour), printed
    beside the figures so runs can be compared."""
    import time
    t0 = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - t0


def run_app_child(script: str, child_args: list[str], size: str, prefix: str, timeout: int,
                  prepare_site=None) -> tuple[dict | None, float, str]:
    """The parent's side of a Kivy benchmark: its own Xvfb, Mosquitto and centre on a
    copy of the sample site (prepare_site(path) may change the site file and the
    database first), then `script --child SITE OUT` with the child's arguments.
    Returns (the child's result or None, when it was spawned (time.time()), the
    child's stderr); everything started is stopped."""
    import json
    import os
    import shutil
    import subprocess
    import sys
    import tempfile
    import time
    from support.broker import Broker, free_port, write_site
    from motcua.config import load_site
    from motcua.service import CentreService
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(work, 0o755)  # Mosquitto runs as its own user
    path = write_site(work, free_port())
    if prepare_site is not None:
        prepare_site(path)
    site = load_site(path)
    display = f":{free_port() % 5000 + 200}"
    w, h = size.split("x")
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", f"{int(w) + 100}x{int(h) + 100}x24",
                             "-nolisten", "tcp"], stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    broker = Broker(site, work / "broker").start()
    centre = CentreService(site).start()
    out = work / "result.json"
    try:
        spawned = time.time()
        proc = subprocess.run([sys.executable, script, *child_args, "--size", size, "--child", str(site.path),
                               str(out)], env={**os.environ, "DISPLAY": display}, capture_output=True,
                              text=True, timeout=timeout)
        return (json.loads(out.read_text()) if out.exists() else None), spawned, proc.stderr
    finally:
        centre.stop()
        broker.stop()
        xvfb.terminate()
        shutil.rmtree(work, ignore_errors=True)


def run_steps(app, steps, result: dict, out: str, on_end=None) -> None:
    """The child's side of a Kivy benchmark: advance the generator `steps` once per
    frame inside the running app; when it ends or fails, call on_end(), write
    `result` (with the error, if any) to `out` and stop the app."""
    import json
    from kivy.clock import Clock

    def tick(dt):
        try:
            next(steps)
            return None
        except StopIteration:
            pass
        except Exception as exc:  # noqa: BLE001 - reported to the parent in the result
            result["error"] = repr(exc)
        if on_end is not None:
            on_end()
        Path(out).write_text(json.dumps(result))
        app.stop()
        return False
    Clock.schedule_interval(tick, 0)
    app.run()
