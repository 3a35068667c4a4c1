"""The display's voice: the shipped voice pack, rendering, the espeak-ng fallback, bad packs,
and the announcer (queue, order, no overlap, recalls). Expected audio is rebuilt here
independently from pack.toml and the clip files with tomllib and wave."""
from __future__ import annotations

import array
import logging
import math
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import tomllib
import unicodedata
import wave
from pathlib import Path

import pytest

from motcua.display.speller import PAUSE, VOCABULARY, announcement_words
from motcua.display.voice import (DEFAULT_PACK, Announcer, VoicePack, VoicePackError, read_wav, resample,
                           trim_silence, wav_duration, word_key)

HAS_ESPEAK = shutil.which("espeak-ng") is not None
needs_espeak = pytest.mark.skipif(not HAS_ESPEAK, reason="espeak-ng is not installed")


# ---- an independent model of a rendered announcement

def manifest(folder: Path) -> dict:
    return tomllib.loads((folder / "pack.toml").read_text(encoding="utf-8"))


def clip_frames(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        return w.readframes(w.getnframes())


def expected_audio(folder: Path, words: list[str], skip: tuple[str, ...] = ()) -> bytes:
    """lead, chime, after_chime, then the words' clips with between_words (or pause where a
    PAUSE token sits between two words), then tail; words in `skip` are left out."""
    m = manifest(folder)
    rate, channels, timing = m["pack"]["sample_rate"], m["pack"]["channels"], m["timing"]

    def silence(ms: int) -> bytes:
        return bytes(int(round(ms * rate / 1000)) * 2 * channels)

    out = [silence(timing["lead"]), clip_frames(folder / m["pack"]["chime"]), silence(timing["after_chime"])]
    first, pause = True, False
    for w in words:
        if w == PAUSE:
            pause = not first
            continue
        if w in skip:
            continue
        if not first:
            out.append(silence(timing["pause"] if pause else timing["between_words"]))
        out.append(clip_frames(folder / m["words"][w]))
        first, pause = False, False
    out.append(silence(timing["tail"]))
    return b"".join(out)


def expected_seconds(folder: Path, words: list[str]) -> float:
    rate = manifest(folder)["pack"]["sample_rate"]
    return len(expected_audio(folder, words)) / 2 / rate


@pytest.fixture(scope="module")
def pack() -> VoicePack:
    return VoicePack(DEFAULT_PACK)


@pytest.fixture
def pack_copy(tmp_path) -> Path:
    folder = tmp_path / "pack"
    shutil.copytree(DEFAULT_PACK, folder)
    return folder


def drop_words(folder: Path, *words: str) -> None:
    """Remove words from a pack's manifest (and their files)."""
    text = (folder / "pack.toml").read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        if any(line.startswith(f'"{w}" = ') for w in words):
            (folder / line.split(" = ")[1].strip('"')).unlink()
            continue
        lines.append(line)
    (folder / "pack.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---- the shipped pack

def test_shipped_pack_covers_every_word_in_one_format(pack):
    assert pack.missing(VOCABULARY) == []
    m = manifest(DEFAULT_PACK)
    assert set(m["words"]) == set(VOCABULARY)
    files = list(m["words"].values()) + [m["pack"]["chime"]]
    assert len(set(files)) == len(files)
    for name in files:
        assert name.isascii(), name
        with wave.open(str(DEFAULT_PACK / name), "rb") as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2), name
            assert 0.05 < w.getnframes() / w.getframerate() < 1.5, name
    size = sum(p.stat().st_size for p in DEFAULT_PACK.iterdir())
    assert size < 1_000_000, f"the default pack is {size} bytes"
    assert (DEFAULT_PACK / "README.md").is_file() and (DEFAULT_PACK / "LICENSE").is_file()


def test_clips_are_speech_trimmed_of_silence(pack):
    for key, clip in pack.clips.items():
        s = array.array("h", clip.frames)
        peak = max(abs(x) for x in s)
        assert peak > 3000, f"{clip.word}: peak {peak}, no speech?"
        # at most 15 ms of near-silence (below 1 % of the peak) at either end
        lead = next(i for i, x in enumerate(s) if abs(x) > 0.01 * peak)
        tail = next(i for i, x in enumerate(reversed(s)) if abs(x) > 0.01 * peak)
        assert lead <= 0.015 * 16000 and tail <= 0.045 * 16000, (clip.word, lead, tail)


def test_chime_is_two_soft_tones(pack):
    s = array.array("h", pack.chime.frames)
    assert 1.0 < len(s) / 16000 < 2.0
    assert 0.3 * 32767 < max(abs(x) for x in s) < 0.6 * 32767
    # the first 0.3 s is mostly one pitch (E5), the last 0.5 s another (C5): count zero crossings
    def freq(part):
        return sum(1 for a, b in zip(part, part[1:]) if (a < 0) != (b < 0)) / 2 / (len(part) / 16000)
    assert 640 < freq(s[:4800]) < 680
    assert 505 < freq(s[-12000:-4000]) < 545


# ---- rendering

def test_render_an_announcement_from_the_shipped_pack(pack, tmp_path):
    words = announcement_words("A1023", 5, pauses=True)
    out = tmp_path / "a.wav"
    r = pack.render(words, out)
    assert out.is_file() and r.path == out
    assert r.fallback_words == [] and r.skipped_words == []
    with wave.open(str(out), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        frames = w.readframes(w.getnframes())
    expected = expected_audio(DEFAULT_PACK, words)
    assert frames == expected                       # same clips, same silences, same order
    assert wav_duration(out) == pytest.approx(expected_seconds(DEFAULT_PACK, words), abs=1e-9)
    assert r.duration == wav_duration(out)
    assert r.wav_bytes() == out.read_bytes()
    # the pauses are longer than the gaps between words: without them it is shorter
    plain = pack.render([w for w in words if w != PAUSE])
    assert r.duration - plain.duration == pytest.approx(3 * (0.220 - 0.040), abs=1e-9)


def test_words_match_whatever_their_unicode_form_case_or_tone_placement(pack):
    assert word_key("một") == word_key(unicodedata.normalize("NFD", "MỘT")) == "mootj"
    assert word_key("mười") == "muwowif" and word_key("mươi") == "muwowi"
    assert word_key("hoà") == word_key("hòa") and word_key("thuỷ") == word_key("thủy")
    assert word_key("\u00d0ê") == word_key("Đê") == word_key("đê") == "ddee"
    assert len({word_key(w) for w in VOCABULARY}) == len(VOCABULARY)
    r = pack.render([unicodedata.normalize("NFD", "MỜI"), "Công", "DÂN"])
    assert r.fallback_words == [] and [s.word for s in r.segments if s.kind == "clip"] == ["mời", "công", "dân"]
    assert r.frames == expected_audio(DEFAULT_PACK, ["mời", "công", "dân"])


@needs_espeak
def test_a_missing_word_falls_back_to_espeak(pack_copy, caplog):
    drop_words(pack_copy, "lăm", "tư")
    pack = VoicePack(pack_copy)
    assert pack.missing(VOCABULARY) == ["lăm", "tư"]
    words = announcement_words("25", 24)             # hai mươi lăm … hai mươi tư
    with caplog.at_level(logging.WARNING, logger="motcua.display.voice"):
        r = pack.render(words)
    assert r.fallback_words == ["lăm", "tư"]
    assert "'lăm'" in caplog.text and "'tư'" in caplog.text and "espeak-ng" in caplog.text
    spoken = [s for s in r.segments if s.kind == "espeak"]
    assert [s.word for s in spoken] == ["lăm", "tư"]
    # the fallback audio is real speech, in the pack's format, about as long as espeak says it
    offset = sum(s.nframes for s in r.segments[:r.segments.index(spoken[0])])
    audio = array.array("h", r.frames[2 * offset: 2 * (offset + spoken[0].nframes)])
    assert max(abs(x) for x in audio) > 3000
    raw = subprocess.run(["espeak-ng", "-v", "vi", "-s", "150", "-z", "--stdout"], input="lăm".encode(),
                         capture_output=True, check=True).stdout
    fmt, frames = read_wav(raw)
    raw_seconds = len(frames) / 2 / fmt.rate
    assert 0.4 * raw_seconds < spoken[0].nframes / 16000 <= raw_seconds
    # everything else is the pack's own clips, in place
    total = len(expected_audio(pack_copy, words, skip=("lăm", "tư"))) // 2 \
        + sum(s.nframes for s in spoken) + 2 * int(0.040 * 16000)
    assert r.nframes == total
    # the second time the word comes from the cache, same audio
    again = pack.render(["lăm"])
    assert [s.nframes for s in again.segments if s.kind == "espeak"] == [spoken[0].nframes]


def test_without_espeak_a_missing_word_is_left_out_and_logged(pack_copy, caplog):
    drop_words(pack_copy, "lăm")
    pack = VoicePack(pack_copy, fallback=False)
    words = announcement_words("15", 2)
    with caplog.at_level(logging.ERROR, logger="motcua.display.voice"):
        r = pack.render(words)
    assert r.skipped_words == ["lăm"] and r.fallback_words == []
    assert "'lăm'" in caplog.text and "left out" in caplog.text
    assert r.frames == expected_audio(pack_copy, words, skip=("lăm",))


def write_clip(path: Path, rate: int, channels: int = 1, width: int = 2, seconds: float = 0.2) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(bytes(int(rate * seconds) * channels * width))


@pytest.mark.parametrize("damage, expect", [
    (lambda f: write_clip(f / "muwowif.wav", 44100),
     ["muwowif.wav", "'mười'", "44100 Hz", "16000 Hz mono 16-bit", "sox"]),
    (lambda f: write_clip(f / "muwowif.wav", 16000, channels=2), ["muwowif.wav", "stereo", "-c 1"]),
    (lambda f: write_clip(f / "muwowif.wav", 16000, width=1), ["muwowif.wav", "8-bit", "-b 16"]),
    (lambda f: write_clip(f / "chime.wav", 22050), ["chime.wav", "the chime", "22050 Hz", "sox"]),
    (lambda f: (f / "muwowif.wav").write_bytes(b"ID3 not a wav"), ["muwowif.wav", "not a PCM WAV"]),
    (lambda f: (f / "muwowif.wav").unlink(), ["muwowif.wav", "does not exist"]),
    (lambda f: write_clip(f / "muwowif.wav", 16000, seconds=0), ["muwowif.wav", "no audio"]),
    (lambda f: (f / "pack.toml").write_text("[pack\n", encoding="utf-8"), ["pack.toml", "not valid TOML"]),
    (lambda f: (f / "pack.toml").write_text((f / "pack.toml").read_text(encoding="utf-8")
                                            + '"mươi\u0300" = "a.wav"\n', encoding="utf-8"),
     ["'mười'", "same word"]),
    (lambda f: (f / "pack.toml").write_text((f / "pack.toml").read_text(encoding="utf-8")
                                            .replace("tail = 200", "tail = -5"), encoding="utf-8"),
     ["tail", "milliseconds"]),
], ids=["rate", "channels", "width", "chime", "not-wav", "missing", "empty", "toml", "duplicate", "timing"])
def test_a_bad_pack_is_refused_with_a_clear_error(pack_copy, damage, expect):
    damage(pack_copy)
    with pytest.raises(VoicePackError) as e:
        VoicePack(pack_copy)
    for part in expect:
        assert part in str(e.value), str(e.value)


def test_a_pack_at_another_rate_works_when_it_says_so(pack_copy, tmp_path):
    """A centre's pack at 22050 Hz stereo: consistent clips are fine; the espeak fallback
    is converted to the pack's format."""
    m = manifest(pack_copy)
    for name in list(m["words"].values()) + ["chime.wav"]:
        fmt, frames = read_wav(pack_copy / name)
        up = resample(array.array("h", frames), 16000, 22050)
        stereo = array.array("h", (x for s in up for x in (s, s)))
        with wave.open(str(pack_copy / name), "wb") as w:
            w.setnchannels(2), w.setsampwidth(2), w.setframerate(22050)
            w.writeframes(stereo.tobytes())
    text = (pack_copy / "pack.toml").read_text(encoding="utf-8")
    (pack_copy / "pack.toml").write_text(text.replace("sample_rate = 16000", "sample_rate = 22050")
                                         .replace("channels = 1", "channels = 2"), encoding="utf-8")
    drop_words(pack_copy, "lăm")
    pack = VoicePack(pack_copy)
    words = announcement_words("A1", 3)
    r = pack.render(words)
    assert r.frames == expected_audio(pack_copy, words)
    if HAS_ESPEAK:
        r = pack.render(["mười", "lăm"])
        assert r.fallback_words == ["lăm"]
        assert r.format.rate == 22050 and r.format.channels == 2 and len(r.frames) % 4 == 0


# ---- audio helpers

def test_resample_keeps_the_pitch_and_removes_what_cannot_be_kept():
    def sine(freq, rate):
        return array.array("h", (int(10000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(rate)))
    out = resample(sine(440, 22050), 22050, 16000)
    assert len(out) == 16000
    crossings = sum(1 for a, b in zip(out, out[1:]) if (a < 0) != (b < 0))
    assert abs(crossings - 880) <= 2
    assert 9500 < max(out[500:-500]) <= 10100
    assert max(abs(x) for x in resample(sine(9000, 22050), 22050, 16000)[500:-500]) < 300  # above 8 kHz


def test_trim_silence():
    rate = 16000
    tone = [int(8000 * math.sin(2 * math.pi * 300 * i / rate)) for i in range(rate // 10)]
    s = array.array("h", [0] * 8000 + [30] * 100 + tone + [5] * 4000)
    t = trim_silence(s, rate)
    assert int(0.1 * rate) <= len(t) <= int(0.1 * rate) + int(0.055 * rate)
    assert t[0] == 0 and abs(t[-1]) < 100          # faded at the ends
    assert len(trim_silence(array.array("h", [3] * 1000), rate)) == 0


@needs_espeak
def test_espeak_stdout_is_read_to_its_real_end(tmp_path):
    raw = subprocess.run(["espeak-ng", "-v", "vi", "--stdout", "mười lăm"], capture_output=True, check=True).stdout
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(tmp_path / "f.wav"), "mười lăm"], check=True)
    fmt, frames = read_wav(raw)
    assert frames == clip_frames(tmp_path / "f.wav") and fmt.rate == 22050


# ---- the announcer

PLAYER = textwrap.dedent("""
    import sys, time, wave
    path, log = sys.argv[1], sys.argv[2]
    start = time.time()
    with wave.open(path, "rb") as w:           # a real WAV, or the player fails
        frames = w.getnframes()
    time.sleep(0.03)
    with open(log, "a") as f:
        f.write(f"{path} {start} {time.time()} {frames}\\n")
""")


@pytest.fixture
def fake_player(tmp_path):
    """A player process that checks the WAV, takes a little time and logs when it ran."""
    script = tmp_path / "player.py"
    script.write_text(PLAYER)
    log = tmp_path / "played.log"
    return [sys.executable, str(script), "{wav}", str(log)], log


def test_a_burst_of_20_calls_is_announced_each_once_in_order(pack, tmp_path, fake_player):
    player, log = fake_player
    calls = [(f"{'AB'[i % 2]}{1001 + i}", 1 + i % 5, 100 + i) for i in range(20)]
    with Announcer(pack, player=player, out_dir=tmp_path / "out", gap_s=0) as announcer:
        t0 = time.monotonic()
        for ticket, counter, seq in calls:
            announcer.announce(ticket, counter, seq=seq)
        enqueue_s = time.monotonic() - t0
        assert enqueue_s < 0.5                       # announce() does not wait for the speech
        assert announcer.pending >= 15               # … so most of the burst is still queued
        assert announcer.wait_idle(120)
        history = announcer.history
    assert [(a.ticket, a.counter, a.seq) for a in history] == calls
    assert [a.index for a in history] == list(range(20))
    assert all(a.state == "done" and a.error is None for a in history), [a.error for a in history]
    for a, b in zip(history, history[1:]):
        assert a.started < a.finished <= b.started  # one at a time, in order
    for a in history:
        assert a.enqueued < t0 + 1.0
        assert a.wav_path.is_file()
        words = announcement_words(a.ticket, a.counter, pauses=True)
        assert a.words == words
        assert wav_duration(a.wav_path) == pytest.approx(expected_seconds(DEFAULT_PACK, words), abs=1e-9)
        assert a.duration == wav_duration(a.wav_path)
        assert a.wav_path.read_bytes()[44:] == expected_audio(DEFAULT_PACK, words)
    # the player itself ran 20 times, one file each, in order, never two at once
    runs = [line.split() for line in log.read_text().splitlines()]
    assert [Path(r[0]) for r in runs] == [a.wav_path for a in history]
    for (_, _, end, _), (_, start, _, _) in zip(runs, runs[1:]):
        assert float(end) <= float(start)
    assert [int(r[3]) for r in runs] == [round(a.duration * 16000) for a in history]


def test_a_recall_is_announced_again(pack, tmp_path):
    with Announcer(pack, player=None, out_dir=tmp_path, gap_s=0) as announcer:
        announcer.announce("1001", 1, seq=1)
        announcer.announce("1002", 2, seq=2)
        announcer.announce("1001", 1, seq=3, recall=True)
        assert announcer.wait_idle(30)
        h = announcer.history
    assert [(a.ticket, a.seq, a.recall, a.state) for a in h] == [
        ("1001", 1, False, "done"), ("1002", 2, False, "done"), ("1001", 3, True, "done")]
    assert h[0].wav_path != h[2].wav_path and h[2].wav_path.is_file()
    assert h[0].duration == h[2].duration
    assert h[2].text == "Mời công dân có số thứ tự một nghìn không trăm linh một đến quầy số một"


def test_a_failing_player_does_not_stop_the_voice(pack, tmp_path):
    events = []
    with Announcer(pack, player=["false"], out_dir=tmp_path, gap_s=0,
                   on_event=lambda kind, a: events.append((kind, a.index))) as announcer:
        announcer.announce("1", 1)
        announcer.announce("2", 1)
        assert announcer.wait_idle(30)
        h = announcer.history
    assert [a.state for a in h] == ["failed", "failed"]
    assert "exited 1" in h[0].error and h[1].wav_path.is_file()
    assert events == [("start", 0), ("finish", 0), ("start", 1), ("finish", 1)]


def test_an_unspeakable_ticket_is_refused_at_once(pack, tmp_path):
    announcer = Announcer(pack, player=None, out_dir=tmp_path)
    with pytest.raises(ValueError):
        announcer.announce("A?1", 1)
    assert announcer.history == [] and announcer.pending == 0
    announcer.stop()


def test_gap_between_announcements_old_files_and_history_pruned(pack, tmp_path):
    with Announcer(pack, player=None, out_dir=tmp_path, gap_s=0.2, keep_files=2, max_history=3) as announcer:
        h = [announcer.announce(str(i + 1), 1) for i in range(4)]
        assert announcer.wait_idle(30)
        assert [a.ticket for a in announcer.history] == ["2", "3", "4"]  # the oldest is forgotten
        h = h[:1] + announcer.history
    for a, b in zip(h[1:], h[2:]):
        assert b.started - a.finished >= 0.19
    assert h[0].wav_path is None                     # the copy announce() returned, when queued
    assert [a.wav_path.exists() for a in h[1:]] == [False, True, True]
    assert sorted(p.name for p in tmp_path.glob("*.wav")) == [h[2].wav_path.name, h[3].wav_path.name]


def test_stop_without_draining_drops_what_is_queued(pack, tmp_path):
    started = threading.Event()
    announcer = Announcer(pack, player=[sys.executable, "-c", "import time; time.sleep(0.5)"],
                          out_dir=tmp_path, gap_s=0, on_event=lambda k, a: started.set())
    for i in range(5):
        announcer.announce(str(i + 1), 1)
    assert started.wait(10)
    announcer.stop(drain=False, timeout=10)
    states = [a.state for a in announcer.history]
    assert states == ["done"] + ["dropped"] * 4
    with pytest.raises(RuntimeError):
        announcer.announce("9", 1)
