"""The procedure catalogue travels from the centre to each kiosk's own copy over
the real broker: paged, atomic, re-synced when the centre's catalogue changes,
and still searchable when the centre is away."""
from __future__ import annotations

import json
import time

import pytest

from motcua.kiosk.catalogue_sync import CatalogueSync
from motcua.kiosk.link import CentreLink
from motcua import protocol
from motcua.catalogue import Catalogue
from motcua.mqtt import RequestRefused
from motcua.service import CentreService
from motcua.store import Store

from support.broker import ROOT

SAMPLE = json.loads((ROOT / "examples" / "procedures.json").read_text(encoding="utf-8"))


def many_procedures(n: int) -> list[dict]:
    """The sample, repeated under new codes: enough to need several pages."""
    out = []
    for i in range(n):
        p = dict(SAMPLE[i % len(SAMPLE)])
        p["code"] = f"T.{i:06d}"
        p["name"] = f"{p['name']} (bản thử {i})"
        out.append(p)
    return out


def load_centre_catalogue(site, records: list[dict]) -> str:
    store = Store(site.database)
    try:
        catalogue = Catalogue(store.db)
        catalogue.replace_all(records)
        return catalogue.version()
    finally:
        store.close()


def wait_for(cond, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def kiosk_copy(site, workdir):
    made = []

    def make(device="kiosk-1"):
        link = CentreLink(site, device, on_change=lambda: None)
        sync = CatalogueSync(link, workdir / f"{device}-catalogue.db")
        link.start()
        sync.start()
        made.append((link, sync))
        return sync

    yield make
    for link, sync in made:
        sync.stop()
        link.stop()


def test_a_kiosk_copies_a_catalogue_of_several_pages(site, broker, kiosk_copy):
    records = many_procedures(400)
    version = load_centre_catalogue(site, records)
    pages = protocol.catalogue_pages(records)
    assert len(pages) > 3  # the test is about paging
    centre = CentreService(site).start()
    try:
        sync = kiosk_copy()
        wait_for(lambda: sync.in_step, 20, "the kiosk's copy")
        assert sync.local_version == version
        copy = Catalogue(sync.catalogue.db)
        assert copy.count() == 400
        assert copy.get("T.000123").name == records[123]["name"]
        assert copy.export() == Catalogue(centre.store.db).export()
        # catalogue pages are not stored as remembered replies (they are big)
        stored = centre.store.db.execute("SELECT count(*) FROM requests WHERE reply LIKE '%procedures%'").fetchone()[0]
        assert stored == 0
    finally:
        centre.stop()


def test_an_import_beside_the_running_centre_reaches_the_kiosk(site, centre, kiosk_copy):
    sync = kiosk_copy()
    wait_for(lambda: sync.centre_version is not None, 10, "the centre's catalogue version")
    assert sync.catalogue.count() == 0  # the centre starts with an empty catalogue
    # `motcua procedures import` writes into the centre's database while it runs
    store = Store(site.database)
    report = Catalogue(store.db).import_file(ROOT / "examples" / "procedures.json")
    new_version = Catalogue(store.db).version()
    store.close()
    assert report.ok and report.imported == len(SAMPLE)
    wait_for(lambda: sync.local_version == new_version, 15, "the new catalogue on the kiosk")
    assert sync.catalogue.search("dang ky khai sinh")[0].name == "Đăng ký khai sinh"


def test_look_up_works_from_the_copy_when_the_centre_is_away(site, broker, workdir, kiosk_copy):
    load_centre_catalogue(site, SAMPLE)
    centre = CentreService(site).start()
    sync = kiosk_copy()
    try:
        wait_for(lambda: sync.in_step, 20, "the kiosk's copy")
    finally:
        centre.stop()
    # a kiosk restarted while the centre is down still has its copy on disk
    again = kiosk_copy("kiosk-1")
    assert again.catalogue.count() == len(SAMPLE)
    assert again.catalogue.search("ly lich tu phap")[0].name.lower().startswith("cấp phiếu lý lịch tư pháp")


def test_stale_or_wrong_pages_are_refused(site, centre, connect):
    load_centre_catalogue(site, SAMPLE)
    kiosk = connect("kiosk-1")
    with pytest.raises(RequestRefused) as exc:
        kiosk.request("catalogue.page", page=0, version="not-the-version")
    assert exc.value.code == "catalogue_changed"
    # the centre notices the import within its check interval
    version = Catalogue(centre.store.db).version()
    wait_for(lambda: centre._catalogue and centre._catalogue[0] == version, 10, "the centre's new version")
    with pytest.raises(RequestRefused) as exc:
        kiosk.request("catalogue.page", page=99, version=version)
    assert exc.value.code == "bad_page"
    expected = protocol.catalogue_pages(Catalogue(centre.store.db).export())
    got = [kiosk.request("catalogue.page", page=i, version=version) for i in range(len(expected))]
    assert [g["pages"] for g in got] == [len(expected)] * len(expected)
    assert [g["procedures"] for g in got] == expected


def test_only_kiosks_may_ask_for_catalogue_pages(site, centre, connect):
    from motcua.mqtt import CentreUnavailable
    with pytest.raises(CentreUnavailable):  # the broker drops a display's request
        connect("display-hall").request("catalogue.page", page=0, version="x", timeout=1)
    with pytest.raises(RequestRefused) as exc:  # a counter's reaches the centre, which refuses
        connect("counter-1").request("catalogue.page", page=0, version="x")
    assert exc.value.code == "forbidden"


def test_pages_stay_under_the_size_limit():
    pages = protocol.catalogue_pages(many_procedures(300), max_bytes=20_000)
    assert sum(map(len, pages)) == 300
    for page in pages:
        size = sum(len(json.dumps(p, ensure_ascii=False, separators=(",", ":")).encode()) + 1 for p in page)
        assert size <= 20_000 or len(page) == 1
    assert protocol.catalogue_pages([]) == []
