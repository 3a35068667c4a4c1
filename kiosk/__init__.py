"""The citizen kiosk (Kivy): take a number, look up procedures, check a dossier.

`run()` is what `motcua kiosk` calls. This module imports no Kivy: Kivy reads
its configuration when first imported, so `run()` sets the window up
(motcua.ui.bootstrap) before it imports the app (kiosk/app.py).
"""
from __future__ import annotations

DEFAULT_SIZE = (540, 960)


def run(site, device_id: str, fullscreen: bool = False, size: tuple[int, int] | None = None) -> None:
    from motcua.ui.bootstrap import configure
    configure(fullscreen, size, default_size=DEFAULT_SIZE)
    from .app import KioskApp
    KioskApp(site, device_id).run()
