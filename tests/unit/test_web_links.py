"""A ticket's link on the phone: only a token signed with the centre's [web]
secret opens a ticket page (motcua/web/links.py over motcua/web_tokens.py)."""
from __future__ import annotations

from motcua.web.app import TicketRef
from motcua.web.links import token_reader
from motcua.web_tokens import make_token

SECRET = "web-test-secret"


def test_a_signed_ticket_link_reads_and_anything_else_does_not():
    read = token_reader({"hcc-demo": SECRET})
    token = make_token(SECRET, "hcc-demo", "t", "2026-11-23", "1005")
    assert read(token) == TicketRef("hcc-demo", "2026-11-23", "1005")
    body, mac = token.split(".")
    other = make_token(SECRET, "hcc-demo", "t", "2026-11-23", "1006")
    refused = [
        make_token("another-secret", "hcc-demo", "t", "2026-11-23", "1005"),   # forged with a guessed secret
        other.split(".")[0] + "." + mac,                                      # another number, this signature
        body + "." + mac[:-2] + ("AA" if not mac.endswith("AA") else "BB"),   # signature altered
        make_token(SECRET, "hcc-demo", "b", "2026-11-23", "17"),               # a booking's link, not a ticket's
        make_token(SECRET, "other-centre", "t", "2026-11-23", "1005"),         # a centre this process does not serve
        "", "1005", "hcc-demo.2026-11-23.1005", "x" * 500, body, body + ".", "../../etc/passwd",
    ]
    for token in refused:
        assert read(token) is None, token


def test_at_the_province_each_centre_is_read_with_its_own_secret():
    read = token_reader({"phuong-a": "secret-a", "phuong-b": "secret-b"})
    assert read(make_token("secret-a", "phuong-a", "t", "2026-11-23", "1001")).centre == "phuong-a"
    assert read(make_token("secret-b", "phuong-b", "t", "2026-11-23", "2001")).centre == "phuong-b"
    assert read(make_token("secret-a", "phuong-b", "t", "2026-11-23", "2001")) is None
