"""The province board (Kivy): every centre of the province as a tile on the TV of
the province's operations room, with the alerts beside them (docs/province.md,
"The province board").

`run()` is what `motcua display province` calls. This module imports no Kivy:
Kivy reads its configuration when first imported, so `run()` sets the window
up (motcua.ui.bootstrap) before it imports the app (app.py).
"""
from __future__ import annotations

DEFAULT_SIZE = (1280, 720)
PAGE_SECONDS = 8.0


def run(province, fullscreen: bool = False, size: tuple[int, int] | None = None,
        page_s: float = PAGE_SECONDS) -> None:
    from motcua.ui.bootstrap import configure
    configure(fullscreen, size, default_size=DEFAULT_SIZE)
    from .app import ProvinceBoardApp
    ProvinceBoardApp(province, page_s=page_s).run()
