"""Which device of the site file an app runs as when none is named (Kivy-free,
for the command line and the apps alike)."""
from __future__ import annotations

from motcua.config import Site


def display_device(site: Site, board: str, counter: int | None) -> str:
    """The display a board runs as: display-hall / display-counter-N when the site file has
    them, else (hall) the display that speaks, else the first display."""
    displays = site.devices_of("display")
    if not displays:
        raise ValueError(f"{site.path} has no display device; add one ([[devices]] with role = \"display\")")
    wanted = {"hall": "display-hall", "tallies": "display-manager"}.get(board, f"display-counter-{counter}")
    for d in displays:
        if d.id == wanted:
            return d.id
    if board == "tallies":
        # a display of its own: two boards as one device would push each other off the broker
        spare = [d for d in displays if not d.speaks and not d.id.startswith(("display-hall", "display-counter-"))]
        if not spare:
            raise ValueError(f"{site.path} has no display for the managers' board; add one "
                             "([[devices]] id = \"display-manager\", role = \"display\")")
        return spare[0].id
    if board == "hall":
        return next((d.id for d in displays if d.speaks), displays[0].id)
    return displays[0].id


def counter_device(site: Site, counter: int) -> str:
    """The counter's own device (role counter at that counter), else the first
    admin device (which may act at any counter)."""
    site.counter(counter)  # KeyError if the site has no such counter
    for d in site.devices_of("counter"):
        if d.counter == counter:
            return d.id
    admins = site.devices_of("admin")
    if admins:
        return admins[0].id
    raise ValueError(f"{site.path} has no counter device at counter {counter} (and no admin device); "
                     f"add one: [[devices]] id = \"counter-{counter}\", role = \"counter\", counter = {counter}")


def device_for(site: Site, role: str, explicit: str | None = None, counter: int | None = None) -> str:
    """The device a command stands for: the one named (it must be in the site file),
    else the first of the role (for a counter, the device at that counter), else the
    first admin device."""
    if explicit:
        try:
            site.device(explicit)
        except KeyError:
            raise ValueError(f"no device {explicit!r} in {site.path}") from None
        return explicit
    for d in site.devices_of(role):
        if counter is None or d.counter == counter:
            return d.id
    admins = site.devices_of("admin")
    if admins:
        return admins[0].id
    raise ValueError(f"{site.path} has no {role} device{f' at counter {counter}' if counter else ''} "
                     "and no admin device to act as; add one")
