"""The displays (Kivy): the TV hall board, the counter display and the managers'
board of today's satisfaction.

`run()` is what `motcua display` calls. This module imports no Kivy: Kivy
reads its configuration when first imported, so `run()` sets the window up
(motcua.ui.bootstrap) before it imports the app (display/app.py).
"""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger("motcua.display")
DEFAULT_SIZE = (1280, 720)


def run(site, device_id: str | None = None, board: str = "hall", counter: int | None = None,
        fullscreen: bool = False, size: tuple[int, int] | None = None, player: str | None = None) -> None:
    from motcua.ui.bootstrap import configure
    configure(fullscreen, size, default_size=DEFAULT_SIZE)
    from .app import DisplayApp
    DisplayApp(site, device_id, board=board, counter=counter, player=player).run()


def _alsa_has_card() -> bool:
    try:
        cards = Path("/proc/asound/cards").read_text()
    except OSError:
        return False
    return bool(cards.strip()) and "no soundcards" not in cards


def choose_player(wanted: str | None = None):
    """The player command for the announcer, or None to only render the WAV files.

    `wanted` (or $MOTCUA_DISPLAY_PLAYER): 'auto' (default), 'none', a player name or a
    command line. 'auto' picks a player only where there is somewhere to play to: a
    PulseAudio/PipeWire server for paplay/pw-play, a sound card for aplay/play."""
    from .voice import player_command
    wanted = wanted or os.environ.get("MOTCUA_DISPLAY_PLAYER") or "auto"
    if wanted.strip().lower() != "auto":
        return player_command(wanted)
    runtime = Path(os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}"))
    if shutil.which("paplay") and (os.environ.get("PULSE_SERVER") or (runtime / "pulse" / "native").exists()):
        return player_command("paplay")
    if shutil.which("pw-play") and (runtime / "pipewire-0").exists():
        return player_command("pw-play")
    if _alsa_has_card():
        for name in ("aplay", "play"):
            if shutil.which(name):
                return player_command(name)
    log.warning("no audio device found (no sound card, no PulseAudio/PipeWire): announcements are "
                "rendered to WAV but not played; set MOTCUA_DISPLAY_PLAYER to force a player")
    return None
