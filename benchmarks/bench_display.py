#!/usr/bin/env python3
"""Hall board benchmark (issue 4): counter call -> number drawn, and resident memory
after many calls. Not a test: it prints figures.

    .venv/bin/python benchmarks/bench_display.py [--samples 300] [--calls 10000] [--size 1920x1080]

It starts its own Xvfb, Mosquitto (the configuration `motcua broker config` writes)
and the real centre on a copy of examples/site.toml, then runs the real hall board
(display-hall, which speaks: every call is rendered to a WAV by the announcer, with
no player, as on a machine without a sound card) in a child process, which also acts
as the counters through MQTT (as the admin device):

1. call -> drawn: `--samples` times, counter.next at one of 10 open counters (then
   counter.start, so the next call may come), one call at a time; measured
   (a) from the call event received by the board to the next frame drawn (Window
   on_flip), and (b) end to end, from the counter's request sent to that frame;
2. resident memory (VmRSS) after `--calls` call events in all: after the samples,
   10 counters recall their ticket in parallel as fast as the centre answers (a
   recall is a call event with its own seq, drawn and announced like any call),
   then the board settles; with the share of Mesa's software renderer (llvmpipe)
   and X shared memory, which a TV box with a GPU driver does not carry.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

COUNTERS = {1: "HT", 2: "HT", 3: "CT", 5: "DD", 7: "XD", 8: "KD", 9: "CU", 10: "LLTP", 11: "XH", 12: "TKQ"}


from measure import percentile, rss_mb, run_app_child, run_steps, software_gl_mb  # noqa: E402


# -- the child: the real hall board, measuring itself ------------------------------------

def measured_display_class():
    """The shipped DisplayApp, with what the benchmark measures: for each call
    event, the time from its arrival to the first frame drawn with it; the last
    call drawn (its seq, and when); the frames drawn."""
    import collections

    from kivy.core.window import Window
    from motcua.display.app import DisplayApp

    class MeasuredDisplay(DisplayApp):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.call_latencies: collections.deque = collections.deque(maxlen=20000)
            self.drawn_seq, self.drawn_at = 0, 0.0
            self.frames = 0

        def build(self):
            root = super().build()
            Window.bind(on_flip=self._counted)
            return root

        def _counted(self, *args):
            self.frames += 1

        def _refresh(self, dt):
            calls = list(self._pending_calls)
            super()._refresh(dt)
            if not calls:
                return
            received = [t for _, t in calls]
            top = max((c.get("seq") or 0) for c, _ in calls)

            def flipped(*args):
                Window.unbind(on_flip=flipped)
                now = time.monotonic()
                self.call_latencies.extend(now - t for t in received)
                self.drawn_seq, self.drawn_at = max(self.drawn_seq, top), now
            Window.bind(on_flip=flipped)

    return MeasuredDisplay


def child(site_path: str, out: str, samples: int, calls: int, size: str) -> None:
    os.environ["MOTCUA_DISPLAY_PLAYER"] = "none"
    from motcua.config import load_site
    from motcua.mqtt import DeviceClient
    from motcua.ui.bootstrap import configure
    w, h = (int(x) for x in size.split("x"))
    configure(False, (w, h))
    site = load_site(site_path)
    app = measured_display_class()(site, "display-hall", board="hall")
    result: dict = {"e2e_ms": [], "event_to_frame_ms": []}
    admin = DeviceClient(site, "admin").start()
    work: dict = {"done": None, "error": None}

    def in_thread(fn):
        work["done"], work["error"] = None, None

        def run():
            try:
                work["done"] = fn()
            except Exception as exc:  # noqa: BLE001
                work["error"] = repr(exc)
                work["done"] = False
        threading.Thread(target=run, daemon=True).start()

    def wait_work():
        while work["done"] is None:
            yield
        if work["error"]:
            raise RuntimeError(work["error"])

    def setup():
        assert admin.wait_connected(10)
        for n, svc in COUNTERS.items():  # registered officers with a PIN (issue 12)
            admin.request("officer.add", officer=f"canbo{n}", name=f"Cán bộ {n}", pin="2580")
            admin.request("counter.sign_in", counter=n, officer=f"canbo{n}", pin="2580")
        for i in range(samples + 3 * len(COUNTERS)):
            admin.request("ticket.issue", service=list(COUNTERS.values())[i % len(COUNTERS)])
        return True

    def steps():
        while not (app.link.broker_connected and app.link.hall):
            yield
        in_thread(setup)
        yield from wait_work()
        for _ in range(30):
            yield
        result["rss_ready_mb"] = rss_mb()
        order = list(COUNTERS)
        for i in range(samples):
            n = order[i % len(order)]
            before = app.link.tracker.last or 0
            t0 = time.monotonic()

            def call(n=n):
                r = admin.request("counter.next", counter=n)
                return r
            in_thread(call)
            while app.drawn_seq <= before:
                if time.monotonic() - t0 > 10:
                    raise RuntimeError(f"call {i}: not drawn within 10 s")
                yield
            result["e2e_ms"].append((app.drawn_at - t0) * 1000)
            yield from wait_work()
            in_thread(lambda n=n: admin.request("counter.start", counter=n))
            yield from wait_work()
        result["event_to_frame_ms"] = [x * 1000 for x in list(app.call_latencies)]
        # the rest of the calls: recalls from 10 counters in parallel
        left = max(0, calls - samples)
        target = (app.link.tracker.last or 0) + left
        # every counter must have a called ticket to recall: call the next one
        for n in order:
            in_thread(lambda n=n: admin.request("counter.next", counter=n))
            yield from wait_work()
        left -= len(order)
        target = (app.link.tracker.last or 0) + left
        t_burst = time.monotonic()

        def recalls():
            threads = []
            per = [left // len(order) + (1 if k < left % len(order) else 0) for k in range(len(order))]

            def loop(n, count):
                for _ in range(count):
                    admin.request("counter.recall", counter=n, timeout=30)
            for n, count in zip(order, per):
                threads.append(threading.Thread(target=loop, args=(n, count)))
                threads[-1].start()
            for t in threads:
                t.join()
            return True
        in_thread(recalls)
        yield from wait_work()
        while app.drawn_seq < target:
            yield
        result["recall_seconds"] = time.monotonic() - t_burst
        result["calls_seen"] = app.link.tracker.last
        result["announced"] = app.announcer.pending if app.announcer else None
        # let the voice catch up (rendering only), then settle
        t_voice = time.monotonic()
        while app.announcer is not None and app.announcer.pending and time.monotonic() - t_voice < 600:
            yield
        result["voice_seconds"] = time.monotonic() - t_voice
        result["announcements"] = len(app.announcer.history) if app.announcer else 0
        for _ in range(60):
            yield
        result["rss_mb"] = rss_mb()
        result["software_gl_mb"] = software_gl_mb()
        result["frames"] = app.frames

    run_steps(app, steps(), result, out, on_end=admin.stop)


# -- the parent ----------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--calls", type=int, default=10000)
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--child", nargs=2, metavar=("SITE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.samples, args.calls, args.size)
        return 0
    if shutil.which("Xvfb") is None:
        print("needs Xvfb: apt-get install xvfb", file=sys.stderr)
        return 2
    r, _, stderr = run_app_child(__file__, ["--samples", str(args.samples), "--calls", str(args.calls)],
                                 args.size, "motcua-bench-display-", timeout=1800)
    if r is None:
        print(stderr[-3000:], file=sys.stderr)
        return 1
    if r.get("error"):
        print("error:", r["error"], file=sys.stderr)
        return 1
    e2e, ev = r["e2e_ms"], r["event_to_frame_ms"]
    print(f"hall board {args.size}, display-hall (speaks; WAV rendered, no player), software GL under Xvfb")
    print(f"call event received -> next frame drawn: p50 {percentile(ev, 50):.1f} ms, "
          f"p99 {percentile(ev, 99):.1f} ms, max {max(ev):.1f} ms  ({len(ev)} calls)")
    print(f"counter request sent -> number drawn (end to end): p50 {percentile(e2e, 50):.1f} ms, "
          f"p99 {percentile(e2e, 99):.1f} ms  ({len(e2e)} calls)")
    print(f"{r['calls_seen']} call events in all ({args.calls - args.samples} as recalls from 10 counters "
          f"in {r['recall_seconds']:.1f} s); {r['announcements']} announcements kept in the history, "
          f"the voice finished {r['voice_seconds']:.1f} s after the last call")
    gl = r["software_gl_mb"]
    print(f"resident memory: {r['rss_ready_mb']:.0f} MB ready, {r['rss_mb']:.0f} MB after the calls, "
          f"of which {gl:.0f} MB software GL and X shared memory ({r['rss_mb'] - gl:.0f} MB without)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
