"""Officers' PINs (issue 12): the rules, the hash, the lock-out with a fake clock, the seal."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from motcua import officers as of

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("pin", ["2580", "739205", "73920518"])
def test_good_pins(pin):
    assert of.pin_problem(pin) is None


@pytest.mark.parametrize("pin", ["", "123", "123456789", "12a4", "0000", "1234", "9876", "٢٥٨٠", " 2580"])
def test_bad_pins_are_refused_with_the_rule(pin):
    assert of.pin_problem(pin) == of.PIN_RULES


def test_hash_is_salted_slow_and_carries_its_parameters():
    a, b = of.hash_pin("2580"), of.hash_pin("2580")
    assert a != b  # a random salt each time
    kind, n, r, p, salt, digest = a.split("$")
    assert (kind, int(n), int(r), int(p)) == ("scrypt", of.SCRYPT_N, of.SCRYPT_R, of.SCRYPT_P)
    assert "2580" not in a
    assert of.verify_pin("2580", a) and of.verify_pin("2580", b)
    assert not of.verify_pin("2581", a)
    # a hash made with other parameters still verifies (they can be raised later)
    assert of.verify_pin("2580", of.hash_pin("2580", n=2 ** 10, r=4, p=2))
    assert not of.verify_pin("2580", "plain$2580") and not of.verify_pin("2580", "")


def officer(pin="2580"):
    return of.new_officer("nguyenvana", "Nguyễn Văn A", pin, NOW)


def test_five_wrong_pins_lock_for_five_minutes_and_a_right_pin_resets_the_count():
    o = officer()
    for i in range(1, 5):
        a = of.attempt(o, "1111", NOW)
        assert a.outcome == "bad_pin" and a.changed
        o = a.officer
        assert o.failures == i and of.tries_left(o) == 5 - i
    a = of.attempt(o, "1111", NOW)
    assert a.outcome == "locked_out"
    o = a.officer
    assert of.locked(o, NOW) and o.locked_until == (NOW + timedelta(minutes=5)).isoformat()
    # locked: even the right PIN is not tried
    assert of.attempt(o, "2580", NOW + timedelta(minutes=4, seconds=59)).outcome == "locked"
    # five minutes later: the right PIN works and the count starts again
    a = of.attempt(o, "2580", NOW + timedelta(minutes=5))
    assert a.outcome == "ok" and a.changed and a.officer.failures == 0 and a.officer.locked_until is None
    # after a lock ran out, a wrong PIN counts from one again
    a = of.attempt(o, "1111", NOW + timedelta(minutes=6))
    assert a.outcome == "bad_pin" and a.officer.failures == 1


def test_a_right_pin_resets_the_count():
    o = of.attempt(of.attempt(officer(), "1111", NOW).officer, "1111", NOW).officer
    assert o.failures == 2
    a = of.attempt(o, "2580", NOW)
    assert a.outcome == "ok" and a.officer.failures == 0
    assert of.attempt(a.officer, "2580", NOW).changed is False  # nothing to write


def test_reset_and_unlock_lift_the_lock():
    o = officer()
    for _ in range(5):
        o = of.attempt(o, "1111", NOW).officer
    assert of.locked(o, NOW)
    r = of.reset_pin(o, "739205", NOW)
    assert not of.locked(r, NOW) and r.failures == 0
    assert of.attempt(r, "739205", NOW).outcome == "ok" and of.attempt(r, "2580", NOW).outcome == "bad_pin"
    assert not of.locked(of.unlock(o, NOW), NOW)


def test_public_view_never_shows_the_hash():
    o = officer()
    assert "pin_hash" not in o.public(NOW) and o.pin_hash not in str(o.public(NOW))


def test_seal_opens_only_for_the_same_device_password_and_request():
    sealed = of.seal_pin("73920518", "counter1-secret", "counter-1", "req-1")
    assert "73920518" not in sealed and sealed.startswith(of.SEAL_PREFIX)
    assert of.seal_pin("73920518", "counter1-secret", "counter-1", "req-1") != sealed  # a fresh nonce
    assert len(of.seal_pin("2580", "counter1-secret", "counter-1", "req-1")) == len(sealed)  # length hidden
    assert of.open_pin(sealed, "counter1-secret", "counter-1", "req-1") == "73920518"
    # another password, device or request id (no replay under a new id): refused
    for secret, device, rid in (("other", "counter-1", "req-1"), ("counter1-secret", "counter-2", "req-1"),
                                ("counter1-secret", "counter-1", "req-2")):
        with pytest.raises(of.PinError):
            of.open_pin(sealed, secret, device, rid)
    for bad in ("73920518", "s1.???", "s1.AAAA"):
        with pytest.raises(of.PinError):
            of.open_pin(bad, "counter1-secret", "counter-1", "req-1")
