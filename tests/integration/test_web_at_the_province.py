"""`motcua web --province` with every part real (issue 14, docs/web.md "At the
province"): a provincial Mosquitto written by `motcua province broker config`,
three centres each with its own Mosquitto bridged to it over TLS (two with
`[province] web = true`, one without) and a real CentreService, and the
province's web on uvicorn, logged in to the provincial broker as its [web]
device, with a local fake SMS gateway.

A ticket taken at centre 2's kiosk is followed live at the province and sees the
call made at centre 2's counter within a second; a number from afar and a booking
made through the province reach the right centre's database, as the province's web
device; a token of centre 1 signed with centre 2's secret shows nothing; the
centre whose bridge does not carry the web is shown as not reachable. The attacker
tests look at what a legitimate reader receives (see test_province_brokers.py):
the web's login reads no batch and asks as no other device; a centre publishes
nothing into another centre's root; the centre's bridge lets in that one device's
requests and nothing else."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from motcua import dossiers
from motcua.catalogue import Catalogue
from motcua.config import load_site
from motcua.mqtt import DeviceClient
from motcua.protocol import Topics, encode
from motcua.province.config import load_province
from motcua.service import CentreService
from motcua.store import Store
from motcua.web import province_app
from motcua.web.notify import WebhookNotifier
from motcua.web_tokens import make_token
from support.broker import ROOT, Broker, free_port, wait_port, write_site
from support.fake_gateway import FakeGateway
from support.officers import register, sign_in
from support.province_broker import OBSERVER, OBSERVER_PASSWORD, Client, ProvincialBroker, write_province
from support.tls import make_ca
from support.web import SSEReader, WebServer, load_sample_data

NOT_AUTHORIZED = 0x87
WEB_DEVICE = "web-tinh"                 # the province's web: its login there, a device of each centre
WEB_PASSWORD = "test-province-web-secret"
CENTRES = {   # id -> (name, bridge carries the web)
    "tt-mot": ("Trung tâm Một", True),
    "tt-hai": ("Trung tâm Hai", True),
    "tt-ba": ("Trung tâm Ba", False),
}
ONE, TWO, THREE = CENTRES


def secret(cid: str) -> str:
    return f"test-web-secret-of-{cid}"


def password(cid: str) -> str:
    return f"test-province-password-{cid}"


class Province:
    """Everything of this test: the provincial broker, the centres (broker, service,
    site), the gateway and the province's web."""

    def __init__(self, folder: Path):
        self.folder = folder
        pki = make_ca(folder / "pki")
        cert, key = pki.server("broker")
        path = write_province(folder, pki, cert, key, free_port(), free_port())
        text = path.read_text(encoding="utf-8")
        for cid, (name, _) in CENTRES.items():
            text += (f'\n[[centres]]\nid = "{cid}"\nname = "{name}"\npassword = "{password(cid)}"\n'
                     f'web_secret = "{secret(cid)}"\n')
        text += (f'\n[web]\ndevice = "{WEB_DEVICE}"\npassword = "{WEB_PASSWORD}"\n'
                 'base_url = "https://dichvu.example.gov.vn"\n')
        path.write_text(text, encoding="utf-8")
        self.path = path
        self.broker = ProvincialBroker(path, folder / "province-broker")
        self.province = load_province(path)
        p = self.province.broker
        self.sites, self.brokers, self.services = {}, {}, {}
        for cid, (name, web) in CENTRES.items():
            where = folder / cid
            where.mkdir()
            extra = (f'\n[[devices]]\nid = "{WEB_DEVICE}"\nrole = "web"\npassword = "test-{cid}-web-tinh"\n'
                     f'\n[province]\nhost = "127.0.0.1"\nport = {p.tls_port}\ncafile = "{pki.ca}"\n'
                     f'password = "{password(cid)}"\n' + ('web = true\nweb_device = "web-tinh"\n' if web else ""))
            self.sites[cid] = load_site(write_site(where, free_port(), extra=extra, replace={
                'id = "hcc-demo"': f'id = "{cid}"', 'name = "Trung tâm Phục vụ hành chính công phường Demo"': f'name = "{name}"',
                'secret = "demo-change-this-web-secret"': f'secret = "{secret(cid)}"'}))
        self.gateway = FakeGateway()
        self.web: WebServer | None = None
        self.clients: list = []

    def start(self) -> "Province":
        self.broker.start()
        load_sample_data(self.sites[TWO])      # procedures and dossiers at centre 2
        for cid, site in self.sites.items():
            self.brokers[cid] = Broker(site, self.folder / cid / "broker").start()
            service = CentreService(site).start()
            assert service.connected.wait(10), f"centre {cid} did not connect to its broker"
            self.services[cid] = service
        self.gateway.start()
        app = province_app(self.province, notifier=WebhookNotifier(self.gateway.url, self.gateway.token,
                                                                   timeout_s=2))
        self.web = WebServer(app).start()
        for cid in (ONE, TWO):   # the bridges come up, and with them each centre's retained state
            self.web.wait_ready(cid, timeout=30)
        return self

    def stop(self) -> None:
        for c in self.clients:
            try:
                c.stop() if isinstance(c, DeviceClient) else c.close()
            except Exception:  # noqa: BLE001 - a refused or dropped client
                pass
        if self.web:
            self.web.stop()
        self.gateway.stop()
        for service in self.services.values():
            service.stop()
        for b in self.brokers.values():
            b.stop()
        self.broker.stop()

    def device(self, cid: str, device_id: str) -> DeviceClient:
        c = DeviceClient(self.sites[cid], device_id).start()
        assert c.wait_connected(10), f"{device_id} could not connect at {cid}"
        self.clients.append(c)
        return c

    def mqtt(self, user: str, pw: str, tls: bool = False) -> Client:
        p = self.province.broker
        c = Client(p.tls_port if tls else p.port, user, pw, ca=self.broker.province.broker.tls_cafile if tls else None)
        self.clients.append(c)
        return c.login()

    def local(self, cid: str) -> Client:
        """A client on a centre's own broker, as its centre device (reads its whole root)."""
        site = self.sites[cid]
        c = Client(site.broker.port, "centre", site.device("centre").password)
        self.clients.append(c)
        return c.login()

    def rows(self, cid: str, sql: str) -> list[tuple]:
        store = Store(self.sites[cid].database)
        try:
            return store.db.execute(sql).fetchall()
        finally:
            store.close()


@pytest.fixture(scope="module")
def province():
    # not pytest's 0700 tmp_path: the mosquitto user reads the files (root drops to it)
    folder = Path(tempfile.mkdtemp(prefix="motcua-web-province-"))
    folder.chmod(0o755)
    p = Province(folder)
    try:
        yield p.start()
    finally:
        p.stop()
        shutil.rmtree(folder, ignore_errors=True)


def form(**fields) -> bytes:
    return urlencode(fields).encode()


def prove(web: WebServer, gateway: FakeGateway, path: str, **fields) -> tuple[int, str, str]:
    """The form with the phone, then the code the gateway got."""
    status, html, _ = web.post(path, form(step="phone", **fields))
    assert status == 200 and "Đã gửi mã xác nhận đến" in html, html[html.find("<main>"):][:600]
    code = gateway.delivered[-1]["params"]["code"]
    nonce = re.search(r'name="ask" value="([^"]+)"', html).group(1)
    return web.post(path, form(step="code", ask=nonce, code=code))


def unique(what: str) -> bytes:
    return encode({"test": f"{what}-{uuid.uuid4().hex[:8]}"})


# -- the pages ----------------------------------------------------------------------------------

def test_the_home_page_lists_the_centres_and_the_unbridged_one_as_not_reachable(province):
    status, html, headers = province.web.get("/")
    assert status == 200 and "Chọn Trung tâm" in html and headers["cache-control"] == "no-store"
    assert f'class="btn" href="/tt/{ONE}">Trung tâm Một<' in html
    assert f'class="btn" href="/tt/{TWO}">Trung tâm Hai<' in html
    # centre 3's bridge does not carry the web: listed, not a link, said plainly
    assert "Trung tâm Ba" in html and f"/tt/{THREE}" not in html
    assert "Hiện chưa kết nối trực tuyến được" in html
    assert "Not reachable online now" in province.web.get("/?lang=en")[1]
    assert province.web.health()["centres"][THREE]["online"] is None
    # a centre's own home: its name, its pages under /tt/<id>
    status, html, _ = province.web.get(f"/tt/{TWO}")
    assert status == 200 and "Trung tâm Hai" in html
    for page in ("lay-so", "dat-lich", "thu-tuc", "ho-so"):
        assert f'href="/tt/{TWO}/{page}"' in html
    assert province.web.get("/tt/khong-co")[0] == 404
    assert province.web.get(f"/tt/{THREE}/lay-so")[0] == 404, "nothing is offered of centre 3"


def test_a_ticket_of_centre_2_is_followed_live_at_the_province(province):
    kiosk, admin = province.device(TWO, "kiosk-1"), province.device(TWO, "admin")
    counter = province.device(TWO, "counter-1")
    register(admin, "nguyenvana")
    sign_in(counter, 1, "nguyenvana")
    mine = kiosk.request("ticket.issue", service="HT")
    path = f"/t/{make_token(secret(TWO), TWO, 't', mine['day'], mine['ticket'])}"
    status, html, _ = province.web.get(path)
    assert status == 200 and f'id="number">{mine["ticket"]}<' in html and "Trung tâm Hai" in html
    stream = SSEReader(province.web.port, path + "/events")
    try:
        stream.wait_for(lambda d: d["state"] == "waiting")
        sent = time.monotonic()
        counter.request("counter.next", counter=1)
        at, _, v = stream.wait_for(lambda d: d["called"], timeout=5)
        assert at - sent < 1.0, f"the call at centre 2 reached the province's page after {at - sent:.2f} s"
        assert v["panel"] == f"Mời công dân có số {mine['ticket']} đến quầy số 1"
        counter.request("counter.start", counter=1)
        stream.wait_for(lambda d: d["state"] == "serving")
        counter.request("counter.done", counter=1)
        stream.wait_for(lambda d: d["state"] == "done")
    finally:
        stream.close()


def test_a_token_signed_with_another_centres_secret_shows_nothing(province):
    kiosk = province.device(ONE, "kiosk-1")
    mine = kiosk.request("ticket.issue", service="CT")
    good = make_token(secret(ONE), ONE, "t", mine["day"], mine["ticket"])
    assert province.web.get(f"/t/{good}")[0] == 200
    for bad in (make_token(secret(TWO), ONE, "t", mine["day"], mine["ticket"]),   # centre 2's secret
                make_token(secret(ONE), "tt-khac", "t", mine["day"], mine["ticket"]),   # no such centre
                make_token(secret(ONE), TWO, "t", mine["day"], mine["ticket"])):   # centre 1's for centre 2
        status, html, _ = province.web.get(f"/t/{bad}")
        assert status == 404 and "Không tìm thấy" in html and mine["ticket"] not in html


def test_procedures_and_a_dossier_of_centre_2_through_its_bridge(province):
    """The catalogue is copied page by page (`catalogue.page`) through the web's
    request and reply lines; a dossier's status is asked the same way."""
    site = province.sites[TWO]
    store = Store(site.database)
    try:
        hits = [h.code for h in Catalogue(store.db).search("dang ky khai sinh", limit=30)]
    finally:
        store.close()
    assert hits
    path = f"/tt/{TWO}/thu-tuc?q=dang+ky+khai+sinh"
    deadline = time.monotonic() + 20
    while f'href="/tt/{TWO}/thu-tuc/' not in province.web.get(path)[1] and time.monotonic() < deadline:
        time.sleep(0.2)       # the web copies each centre's catalogue as a kiosk does
    status, html, _ = province.web.get(path)
    assert re.findall(rf'href="/tt/{TWO}/thu-tuc/([^"?]+)', html) == [quote(c) for c in hits]
    assert "Giấy tờ cần mang" in province.web.get(f"/tt/{TWO}/thu-tuc/{quote(hits[0])}")[1]
    assert "Danh mục thủ tục chưa được tải về" in province.web.get(f"/tt/{ONE}/thu-tuc?q=khai+sinh")[1], \
        "centre 1 has no catalogue: its page does not show centre 2's"
    record = json.loads((ROOT / "examples" / "dossiers.json").read_text(encoding="utf-8"))[0]
    lookup = dossiers.lookup_code(record["code"], site.dossiers)
    status, html, _ = province.web.get(f"/tt/{TWO}/ho-so", data=f"code={record['code']}&lookup={lookup}".encode())
    assert record["code"].upper() in html and dossiers.mask_name(record["applicant_name"]) in html
    assert record["applicant_name"] not in html
    status, html, _ = province.web.get(f"/tt/{ONE}/ho-so", data=f"code={record['code']}&lookup={lookup}".encode())
    assert 'class="err"' in html and dossiers.mask_name(record["applicant_name"]) not in html, \
        "centre 1 does not know centre 2's dossier"


def test_a_number_from_afar_and_a_booking_reach_the_right_centre(province):
    web, gateway = province.web, province.gateway
    status, html, _ = web.get(f"/tt/{ONE}/lay-so")
    assert status == 200 and 'value="HT"' in html and "Hộ tịch" in html
    status, html, path = prove(web, gateway, f"/tt/{ONE}/lay-so", service="HT", phone="0912 000 111")
    assert status == 200 and path.startswith("/t/") and "Số lấy từ xa" in html, html[html.find("<main>"):][:600]
    label = re.search(r'id="number">(\d+)<', html).group(1)
    assert province.rows(ONE, f"SELECT state, device FROM tickets WHERE label = '{label}' AND origin = 'remote'") \
        == [("reserved", WEB_DEVICE)], "centre 1 holds the number, asked as the province's web device"
    assert province.rows(TWO, "SELECT count(*) FROM tickets WHERE origin = 'remote'") == [(0,)]
    # the kiosk of centre 1 checks it in from its link; the province's page follows
    stream = SSEReader(web.port, path + "/events")
    try:
        stream.wait_for(lambda d: d["state"] == "reserved")
        kiosk = province.device(ONE, "kiosk-1")
        assert kiosk.request("ticket.check_in", token="https://dichvu.example.gov.vn" + path)["checked_in"]
        stream.wait_for(lambda d: d["state"] == "waiting")
    finally:
        stream.close()

    # the province has no site file: it offers bookings for the services whose state says so
    listed = re.findall(r'dat-lich\?dv=([A-Z]+)', web.get(f"/tt/{TWO}/dat-lich")[1])
    assert sorted(listed) == ["CT", "HT"], "the sample site's [[web.slots]] are HT's and CT's only"
    status, html, _ = web.get(f"/tt/{TWO}/dat-lich?dv=HT")
    slots = re.findall(r'name="slot" value="([^"]+)"', html)
    assert status == 200 and slots, html[html.find("<main>"):][:600]
    status, html, path = prove(web, gateway, f"/tt/{TWO}/dat-lich?dv=HT", slot=slots[0], phone="0912 000 222")
    assert status == 200 and path.startswith("/b/") and "Lịch hẹn của bạn" in html, html[html.find("<main>"):][:600]
    day, at = slots[0].split()
    assert province.rows(TWO, "SELECT day, time, state, device FROM bookings") == [(day, at, "booked", WEB_DEVICE)]
    assert province.rows(ONE, "SELECT count(*) FROM bookings") == [(0,)]
    assert "Lịch hẹn đã huỷ." in web.post(path + "/huy", b"")[1]
    assert province.rows(TWO, "SELECT state FROM bookings") == [("cancelled",)]


def test_motcua_web_province_as_a_process(province):
    """The command line's path: --province read, the notifier from [web] (none), the
    application served by uvicorn; its home lists the centres."""
    port = free_port()
    log = province.folder / "web-process.log"
    proc = subprocess.Popen([sys.executable, "-m", "motcua", "web", "--province", str(province.path),
                             "--http-port", str(port)], stdout=open(log, "ab"), stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_port(port, timeout=20)
        deadline = time.monotonic() + 20
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                html = r.read().decode("utf-8")
            if f'href="/tt/{TWO}"' in html or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert "Chọn Trung tâm" in html and f'href="/tt/{ONE}"' in html and f'href="/tt/{TWO}"' in html, \
            log.read_text(errors="replace")[-2000:]
        assert f'href="/tt/{THREE}"' not in html
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- the bridge and the logins, as an attacker would try them ------------------------------------
# (Last: a client with a centre's login on the TLS listener takes its bridge's client id
# and pushes the bridge off for a while, docs/province.md.)

def test_the_bridge_lets_in_the_webs_own_requests_and_nothing_else(province):
    """The centre's broker does not hold its bridge to its ACL: the bridge's one `in`
    line for the web is the filter. A witness at the province that may publish
    anything tries other topics of the centre's root; only the web's request arrives."""
    local = province.local(ONE)
    local.subscribe(f"motcua/{ONE}/#")
    witness = province.mqtt(OBSERVER, OBSERVER_PASSWORD)
    t = Topics(ONE)
    forged = unique("forged")
    for topic in (t.request("kiosk-1"), t.request("admin"), t.request("centre"), t.service_state("HT"),
                  t.call_event, t.centre_availability, t.reply(WEB_DEVICE), f"{t.root}/state/hall"):
        assert not witness.publish(topic, forged).is_failure      # the witness may: the bridge must not carry it
    witness.subscribe(t.reply(WEB_DEVICE))
    probe = f"probe-{uuid.uuid4().hex[:8]}"
    own = encode({"id": probe, "op": "ticket.status", "args": {"ticket": "9999"}})
    assert not witness.publish(t.request(WEB_DEVICE), own, qos=1).is_failure
    local.wait_for(own, topic=t.request(WEB_DEVICE))
    assert not local.got(forged), [m[0] for m in local.received if m[1] == forged]
    # the centre answered it as from its web device, back across the bridge
    def answered():
        return any(topic == t.reply(WEB_DEVICE) and probe.encode() in payload
                   for topic, payload, _ in witness.received)
    deadline = time.monotonic() + 10
    while not answered() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert answered(), "the centre's reply to the web never reached the province"


def test_the_web_login_reads_no_batch_and_asks_as_no_other_device(province):
    web = province.mqtt(WEB_DEVICE, WEB_PASSWORD)
    web.subscribe("#", f"motcua/{ONE}/ship/batch")
    centre = province.mqtt(ONE, password(ONE), tls=True)      # centre 1's own login, as its bridge
    t = Topics(ONE)
    batch, state = unique("batch"), unique("state")
    assert not centre.publish(f"{t.root}/ship/batch", batch).is_failure
    assert not centre.publish(t.service_state("ZZ"), state).is_failure
    web.wait_for(state)        # what it may read arrived after the batch: the batch would be there
    assert not web.got(batch), "the web's login read a centre's batch"

    witness = province.mqtt(OBSERVER, OBSERVER_PASSWORD)
    witness.subscribe("motcua/#")
    forged, own = unique("as-kiosk"), unique("own")
    assert web.publish(t.request("kiosk-1"), forged).value == NOT_AUTHORIZED
    assert web.publish(Topics(ONE).request("admin"), forged).value == NOT_AUTHORIZED
    assert web.publish(f"{t.root}/ship/ack", forged).value == NOT_AUTHORIZED
    assert web.publish(t.call_event, forged).value == NOT_AUTHORIZED
    assert not web.publish(t.request(WEB_DEVICE), own).is_failure
    witness.wait_for(own)
    assert not witness.got(forged), "the web's login published as another device"


def test_a_centre_publishes_nothing_into_another_centres_root(province):
    one = province.mqtt(ONE, password(ONE), tls=True)
    web = province.mqtt(WEB_DEVICE, WEB_PASSWORD)
    two = Topics(TWO)
    web.subscribe(f"{two.root}/#")
    forged = unique("forged")
    for topic in (two.service_state("HT"), two.call_event, two.ticket_event, two.centre_availability,
                  two.reply(WEB_DEVICE), two.request(WEB_DEVICE)):
        assert one.publish(topic, forged).value == NOT_AUTHORIZED, topic
    # nor, at the province, a request to itself as the web (only the web's login asks)
    assert one.publish(Topics(ONE).request(WEB_DEVICE), forged).value == NOT_AUTHORIZED
    real = unique("real")
    centre_two = province.mqtt(TWO, password(TWO), tls=True)
    assert not centre_two.publish(two.service_state("ZZ"), real).is_failure
    web.wait_for(real)
    assert not web.got(forged), "centre 1 published into centre 2's root"


def test_a_centre_whose_bridge_is_down_is_shown_unreachable_and_back(province):
    """The centre's retained "online" stays on the provincial broker when its bridge
    breaks; the bridge's will (ship/link 0) tells the web. Last: it stops a broker."""
    # the attacker tests above took the bridge's client id for a moment: it is back by now
    for cid in (ONE, TWO):
        province.web.wait_ready(cid, timeout=40)
    assert f'href="/tt/{ONE}"' in province.web.get("/")[1]
    province.brokers[ONE].stop()           # the bridge's will fires at the province
    deadline = time.monotonic() + 15
    while province.web.health()["centres"][ONE]["online"] is not False and time.monotonic() < deadline:
        time.sleep(0.1)
    assert province.web.health()["centres"][ONE]["online"] is False
    html = province.web.get("/")[1]
    assert f'href="/tt/{ONE}"' not in html and f'href="/tt/{TWO}"' in html
    province.brokers[ONE].start()          # the bridge comes back, then the centre's state
    province.web.wait_ready(ONE, timeout=40)
    assert f'href="/tt/{ONE}"' in province.web.get("/")[1]
