"""The kiosk's own copy of the procedure catalogue, kept in step with the
centre's, so that look-up keeps working while the centre is away.

The centre publishes the catalogue's version (retained); when it differs from
the local copy's, the kiosk fetches every page with `catalogue.page` and swaps
its copy in one transaction: a citizen searching meanwhile sees the old
catalogue, never half of the new one. No Kivy here."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

import sqlite_utils

from motcua.catalogue import Catalogue, CatalogueError
from motcua.mqtt import CentreUnavailable, RequestRefused

log = logging.getLogger("motcua.kiosk.catalogue")

RETRY_S = (2, 5, 15, 30)  # waits between failed syncs, then every 30 s


def open_database(path: Path) -> sqlite_utils.Database:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode=WAL")  # searches read while a sync writes
    return db


class CatalogueSync:
    """Owns the local catalogue file. `catalogue` is for the thread that made
    this object (the UI); the sync runs in its own thread with its own
    connection."""

    def __init__(self, link, path: Path, on_synced: Callable[[], None] = lambda: None):
        self.link = link
        self.path = Path(path)
        self.on_synced = on_synced
        self.catalogue = Catalogue(open_database(self.path))
        self.local_version = self.catalogue.version()
        self.centre_version: str | None = None
        self.centre_pages = 0
        self.last_error: str | None = None
        self.syncs = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="catalogue-sync", daemon=True)
        link.client.subscribe(link.topics.catalogue_version, self._on_version)

    def start(self) -> "CatalogueSync":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    @property
    def in_step(self) -> bool:
        return self.centre_version is not None and self.centre_version == self.local_version

    def _on_version(self, topic: str, data: dict) -> None:
        version, pages = data.get("version"), data.get("pages")
        if isinstance(version, str) and isinstance(pages, int):
            self.centre_version, self.centre_pages = version, pages
            self._wake.set()
        else:
            log.warning("ignored a catalogue version without version and pages: %r", data)

    def _run(self) -> None:
        db = open_database(self.path)
        catalogue = Catalogue(db)
        failures = 0
        while not self._stop.is_set():
            self._wake.wait(timeout=RETRY_S[min(failures, len(RETRY_S) - 1)] if failures else None)
            self._wake.clear()
            if self._stop.is_set():
                break
            wanted = self.centre_version
            if wanted is None or wanted == self.local_version:
                failures = 0
                continue
            try:
                self._sync(catalogue, wanted)
                failures = 0
            except (CentreUnavailable, RequestRefused, CatalogueError) as exc:
                failures += 1
                self.last_error = str(exc)
                log.warning("catalogue sync to %s failed (%s); the kiosk keeps its copy %s and "
                            "tries again", wanted[:12], exc, self.local_version[:12])
        db.close()

    def _sync(self, catalogue: Catalogue, version: str) -> None:
        started = time.monotonic()
        records: list[dict] = []
        pages = self.centre_pages  # an empty catalogue has no page to ask for
        page = 0
        while page < pages:
            answer = self.link.client.request("catalogue.page", page=page, version=version)
            records += answer["procedures"]
            pages = answer["pages"]
            page += 1
        catalogue.replace_all(records)
        self.local_version = catalogue.version()
        if self.local_version != version:
            # the same records must give the same version; anything else is a bug to see
            log.error("catalogue copied but its version is %s, not %s", self.local_version[:12], version[:12])
        self.last_error = None
        self.syncs += 1
        log.info("catalogue synced: %d procedures in %d pages, %.2f s", len(records), pages,
                 time.monotonic() - started)
        self.on_synced()
