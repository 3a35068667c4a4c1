"""Officers for tests that sign in (issue 12): register through the admin's
`officer.add`, then sign in with the PIN (DeviceClient seals it)."""
from __future__ import annotations

PIN = "2580"  # every test officer's PIN unless a test says otherwise


def register(admin, *officers, pin: str = PIN) -> None:
    """register(admin, "nguyenvana", ("tranthib", "Trần Thị B"), …): each once; an
    officer already registered is fine."""
    from motcua.mqtt import RequestRefused
    for o in officers:
        officer, name = (o, o) if isinstance(o, str) else o
        try:
            admin.request("officer.add", officer=officer, name=name, pin=pin)
        except RequestRefused as exc:
            if exc.code != "officer_exists":
                raise


def sign_in(client, counter: int, officer: str, pin: str = PIN, **kw) -> dict:
    return client.request("counter.sign_in", counter=counter, officer=officer, pin=pin, **kw)


def register_on(site, *officers, pin: str = PIN) -> None:
    """The same, for a test that has no admin client at hand: one for the moment."""
    from motcua.mqtt import DeviceClient
    admin = DeviceClient(site, site.devices_of("admin")[0].id).start()
    try:
        assert admin.wait_connected(10), "the admin device could not connect"
        register(admin, *officers, pin=pin)
    finally:
        admin.stop()
