"""The officer's counter terminal (issue 6): `motcua counter-app N`.

`run()` is what the command calls. This module imports no Kivy: Kivy reads its
configuration when first imported, so `run()` sets the window up
(motcua.ui.bootstrap) before it imports the app (counter/app.py).
"""
from __future__ import annotations

DEFAULT_SIZE = (480, 720)


def run(site, device_id: str | None = None, counter: int | None = None, officer: str | None = None,
        fullscreen: bool = False, size: tuple[int, int] | None = None) -> None:
    from motcua.ui.bootstrap import configure
    configure(fullscreen, size, default_size=DEFAULT_SIZE)
    from .app import CounterApp
    CounterApp(site, device_id, counter=counter, officer=officer).run()
