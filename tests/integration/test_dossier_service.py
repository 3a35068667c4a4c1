"""Dossier status for citizens and the one-stop software's updates, through
the real broker and centre."""
from __future__ import annotations

import json

import pytest

from motcua import dossiers
from motcua.mqtt import RequestRefused
from motcua.store import Store

from support.broker import ROOT

SAMPLE = ROOT / "examples" / "dossiers.json"


@pytest.fixture
def imported(site):
    store = Store(site.database)
    report = dossiers.DossierStore(store.db, site.dossiers, site.timezone).import_file(SAMPLE)
    store.close()
    assert report.ok and report.imported >= 15
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def test_a_scanned_receipt_shows_the_dossier_masked(site, imported, centre, connect):
    record = imported[0]
    kiosk = connect("kiosk-1")
    view = kiosk.request("dossier.status", qr=dossiers.qr_text(record["code"], site.dossiers) + "\r\n")
    assert view["code"] == record["code"].upper()
    assert view["applicant"] == dossiers.mask_name(record["applicant_name"])
    assert record["applicant_name"] not in json.dumps(view, ensure_ascii=False)
    assert view["steps_done"] and view["status"]["vi"]


def test_a_typed_code_needs_its_lookup_code(site, imported, centre, connect):
    code = imported[1]["code"]
    kiosk = connect("kiosk-1")
    view = kiosk.request("dossier.status", code=code, lookup=dossiers.lookup_code(code, site.dossiers))
    assert view["code"] == code.upper()
    with pytest.raises(RequestRefused) as exc:
        kiosk.request("dossier.status", code=code, lookup="ABCDEF")
    assert exc.value.code == "unverified"
    # a guessed code that does not exist is told apart from nothing
    guess = "000.00.31.H12-261101-0999"
    with pytest.raises(RequestRefused) as exc2:
        kiosk.request("dossier.status", code=guess, lookup="ABCDEF")
    assert exc2.value.code == "unverified"
    with pytest.raises(RequestRefused) as exc3:
        kiosk.request("dossier.status", qr="MOTCUA-D:not-a-code:XYZ")
    assert exc3.value.code in ("malformed_qr", "malformed_code")


def test_the_one_stop_software_updates_a_dossier(site, imported, centre, connect):
    record = next(r for r in imported if r["status"] in ("received", "processing"))
    connector, kiosk = connect("motcua-connector"), connect("kiosk-1")
    before = kiosk.request("dossier.status", qr=dossiers.qr_text(record["code"], site.dossiers))
    last = before["steps_done"][-1]["at"]
    at = "2026-11-23T15:30:00+07:00"
    assert at > last
    view = connector.request("dossier.update", code=record["code"], status="result_ready", at=at,
                             note="Đã có kết quả, mời công dân đến nhận")
    assert view["status"]["code"] == "result_ready"
    after = kiosk.request("dossier.status", qr=dossiers.qr_text(record["code"], site.dossiers))
    assert after["steps_done"][-1]["step"] == "result_ready"
    with pytest.raises(RequestRefused) as exc:
        connector.request("dossier.update", code=record["code"], status="no_such_status", at=at)
    assert exc.value.code == "unknown_status"


def test_roles_hold_for_dossiers(site, imported, centre, connect):
    with pytest.raises(RequestRefused) as exc:
        connect("kiosk-2").request("dossier.update", code=imported[0]["code"], status="processing",
                                   at="2026-11-23T10:00:00+07:00")
    assert exc.value.code == "forbidden"
    with pytest.raises(RequestRefused) as exc:
        connect("motcua-connector").request("ticket.issue", service="HT")
    assert exc.value.code == "forbidden"


def test_cli_imports_and_renders_a_receipt(site, tmp_path):
    import subprocess
    import sys
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"code": "garbage"}]), encoding="utf-8")
    run = lambda *a: subprocess.run([sys.executable, "-m", "motcua", "--site", str(site.path), "dossiers", *a],
                                    capture_output=True, text=True, cwd=ROOT, timeout=60)
    r = run("import", str(SAMPLE))
    assert r.returncode == 0 and "imported" in r.stdout
    r = run("import", str(bad))
    assert r.returncode == 1 and "row 1" in r.stderr.lower()
    code = json.loads(SAMPLE.read_text(encoding="utf-8"))[0]["code"]
    out = tmp_path / "receipt.pdf"
    r = run("receipt", code, "--out", str(out))
    assert r.returncode == 0 and out.stat().st_size > 5000
    assert "fontTools" not in r.stderr
    r = run("receipt", "000.00.31.H12-261101-0999")
    assert r.returncode == 2 and "unknown_dossier" in r.stderr
