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
