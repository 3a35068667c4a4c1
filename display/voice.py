"""The display's voice: voice packs, rendering announcements to WAV, and the announcer.

A *voice pack* is a folder with one short WAV clip per word, a chime and a
manifest, `pack.toml`::

    [pack]
    name = "espeak-ng vi"
    sample_rate = 16000        # every clip: this rate, 16-bit PCM, `channels` channels
    channels = 1
    chime = "chime.wav"        # "" for no chime

    [timing]                   # milliseconds of silence
    lead = 0                   # before the chime (some HDMI sinks swallow the first moment)
    after_chime = 250
    between_words = 40
    pause = 220                # at a PAUSE token (between the phrases of the sentence)
    tail = 200                 # after the last word

    [fallback]                 # espeak-ng voice for words the pack has no clip for
    voice = "vi"
    speed = 150

    [words]
    "mời" = "mowif.wav"
    …

The manifest maps words to files because file names with diacritics are fragile
(NFC/NFD, zip tools, FAT file systems). Words are matched after NFC, lowercasing,
folding the look-alikes of đ, and ignoring where the tone mark sits ("hoà" is
"hòa"): see `word_key`, which is also the (ASCII, Telex-like) file name the
generator gives each clip. A centre can record its own voice: replace the clips
(same format) or point the manifest at new files (display/voicepack/README.md).

`VoicePack.render(words)` joins chime + clips + silences with the stdlib `wave`
module. Clips that do not match the pack's format are rejected when the pack is
loaded, with an error naming the file and the command that converts it. A word
with no clip is spoken by `espeak-ng -v vi --stdout` (converted to the pack's
format) and logged; without espeak-ng it is left out, and logged as an error.

`Announcer` queues announcements and plays them one at a time from a single
worker thread: they never overlap or cut each other, `announce()` never blocks,
and `history` records every announcement for inspection. The announcer does
*not* deduplicate: the display drops repeated call events by their `seq`, and a
recall is a new event (new `seq`) that must be announced again.

No Kivy and no paho here: this is the display's audio back-end, usable and
tested without a screen. Only the standard library and, at run time, the
player and espeak-ng programs.
"""
from __future__ import annotations

import array
import io
import itertools
import logging
import math
import os
import queue
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import unicodedata
import wave
from dataclasses import dataclass, field, replace
from pathlib import Path

from motcua.resources import package_path
from typing import Callable, Iterable, Mapping, Sequence

from motcua.display.speller import NORTH, PAUSE, SpellStyle, announcement_text, announcement_words

__all__ = [
    "AudioFormat", "Announcement", "Announcer", "DEFAULT_PACK", "Rendered", "Segment", "Timing",
    "VoicePack", "VoicePackError", "player_command", "read_wav", "resample", "trim_silence",
    "wav_duration", "word_key", "write_wav",
]

log = logging.getLogger("motcua.display.voice")

DEFAULT_PACK = package_path("motcua.display", "voicepack")
MANIFEST = "pack.toml"
SAMPLE_WIDTH = 2  # bytes: packs are 16-bit PCM
_BIG_ENDIAN = sys.byteorder == "big"


class VoicePackError(ValueError):
    """A voice pack that cannot be used; the message names the file and what to do."""


# ---------------------------------------------------------------- words and keys

_TONES = {"\u0301": "s", "\u0300": "f", "\u0309": "r", "\u0303": "x", "\u0323": "j"}
_LOOKALIKES = str.maketrans({"\u00d0": "đ", "\u0189": "đ", "\u00f0": "đ", "\u0256": "đ"})


def word_key(word: str) -> str:
    """A spelling-independent ASCII key for a Vietnamese word, in Telex (field notes):
    â ê ô -> aa ee oo, ă -> aw, ơ ư -> ow uw, đ -> dd, and the tone letter (s f r x j)
    at the end, so 'một' -> 'mootj', 'mười' -> 'muwowif', 'Hoà' and 'hòa' -> 'hoaf'.
    NFC or NFD input, either case and the look-alikes of Đ give the same key. Characters
    other than letters and digits become '_'."""
    text = unicodedata.normalize("NFD", word.strip().lower().translate(_LOOKALIKES))
    out: list[str] = []
    tone = ""
    last = ""
    for ch in text:
        if ch in _TONES:
            tone = tone or _TONES[ch]
        elif ch == "\u0302":          # circumflex: â ê ô
            out.append(last)
        elif ch in ("\u0306", "\u031b"):  # breve ă, horn ơ ư
            out.append("w")
        elif ch == "đ":
            out.append("dd")
            last = "d"
        elif unicodedata.combining(ch):
            continue
        elif ch.isascii() and ch.isalnum():
            out.append(ch)
            last = ch
        else:
            out.append("_")
            last = ""
    return "".join(out) + tone


def _is_pause(token: str) -> bool:
    return token == PAUSE or (bool(token.strip()) and not any(c.isalnum() for c in token))


# ---------------------------------------------------------------- PCM helpers

@dataclass(frozen=True)
class AudioFormat:
    rate: int
    channels: int = 1
    sampwidth: int = SAMPLE_WIDTH

    def __str__(self) -> str:
        ch = {1: "mono", 2: "stereo"}.get(self.channels, f"{self.channels} channels")
        return f"{self.rate} Hz {ch} {8 * self.sampwidth}-bit"


def _samples(frames: bytes) -> array.array:
    a = array.array("h")
    a.frombytes(frames[: len(frames) // 2 * 2])
    if _BIG_ENDIAN:
        a.byteswap()
    return a


def _frames(samples: array.array) -> bytes:
    if _BIG_ENDIAN:
        samples = array.array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def read_wav(source: str | os.PathLike | bytes) -> tuple[AudioFormat, bytes]:
    """(format, PCM frames) of a WAV file or WAV bytes. Also reads the output of
    `espeak-ng --stdout`, whose header gives no real length (it reads to the end)."""
    f = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")
    with f, wave.open(f, "rb") as w:
        fmt = AudioFormat(w.getframerate(), w.getnchannels(), w.getsampwidth())
        frames = w.readframes(min(w.getnframes(), 1 << 30))
    size = fmt.channels * fmt.sampwidth
    return fmt, frames[: len(frames) // size * size]


def write_wav(target: str | os.PathLike | io.BytesIO, fmt: AudioFormat, frames: bytes) -> None:
    with wave.open(target if isinstance(target, io.BytesIO) else str(target), "wb") as w:
        w.setnchannels(fmt.channels)
        w.setsampwidth(fmt.sampwidth)
        w.setframerate(fmt.rate)
        w.writeframes(frames)


def wav_duration(path: str | os.PathLike) -> float:
    """Seconds of audio in a WAV file, from its header (the `wave` module)."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def to_mono(samples: array.array, channels: int) -> array.array:
    if channels == 1:
        return samples
    return array.array("h", (int(sum(samples[i:i + channels]) / channels)
                             for i in range(0, len(samples) - channels + 1, channels)))


def _sinc_taps(phase: float, cutoff: float, half: int) -> list[float]:
    """FIR taps for input samples k = floor(t)-half+1 .. floor(t)+half at fractional offset
    `phase` (Blackman-windowed sinc, low-pass at `cutoff` × the input's Nyquist)."""
    taps = []
    for j in range(-half + 1, half + 1):
        x = j - phase                      # distance of input sample from the output point
        arg = math.pi * cutoff * x
        s = cutoff if x == 0 else math.sin(arg) / (math.pi * x)
        w = (x + half) / (2 * half)        # 0..1 across the window
        window = 0.42 - 0.5 * math.cos(2 * math.pi * w) + 0.08 * math.cos(4 * math.pi * w)
        taps.append(s * window)
    total = sum(taps)
    return [t / total for t in taps] if total else taps


def resample(samples: Sequence[int], src_rate: int, dst_rate: int, half: int = 16) -> array.array:
    """Mono 16-bit samples from `src_rate` to `dst_rate` (windowed-sinc, polyphase; pure
    Python, fine for clips of a second or two)."""
    src = array.array("h", samples)
    if src_rate == dst_rate or not src:
        return src
    g = math.gcd(src_rate, dst_rate)
    up, down = dst_rate // g, src_rate // g
    cutoff = min(1.0, dst_rate / src_rate) * 0.92
    if cutoff < 1.0:
        half = int(math.ceil(half / cutoff))
    n_out = len(src) * up // down
    padded = [0] * half + list(src) + [0] * (half + 1)
    table: dict[int, list[float]] = {}
    out = array.array("h", bytes(2 * n_out))
    for i in range(n_out):
        pos, num = divmod(i * down, up)        # input position pos + num/up
        taps = table.get(num)
        if taps is None:
            taps = _sinc_taps(num / up, cutoff, half)
            if len(table) < 8192:
                table[num] = taps
        start = pos + 1                        # padded index of input sample pos-half+1
        acc = 0.0
        for t, s in zip(taps, padded[start:start + 2 * half]):
            acc += t * s
        out[i] = max(-32768, min(32767, int(round(acc))))
    return out


def trim_silence(samples: array.array, rate: int, *, threshold: float = 0.01, floor: int = 120,
                 keep_before_ms: float = 10, keep_after_ms: float = 40,
                 fade_in_ms: float = 4, fade_out_ms: float = 12) -> array.array:
    """Mono samples without their leading and trailing silence: everything before the first
    and after the last sample louder than max(`floor`, `threshold` × peak), keeping a short
    margin, with short fades so the joins do not click. All silence -> empty."""
    if not samples:
        return array.array("h")
    peak = max(abs(min(samples)), abs(max(samples)))
    limit = max(floor, threshold * peak)
    first = next((i for i, s in enumerate(samples) if abs(s) > limit), None)
    if first is None:
        return array.array("h")
    last = next(i for i in range(len(samples) - 1, -1, -1) if abs(samples[i]) > limit)
    start = max(0, first - int(rate * keep_before_ms / 1000))
    end = min(len(samples), last + 1 + int(rate * keep_after_ms / 1000))
    out = array.array("h", samples[start:end])
    n_in = min(len(out), int(rate * fade_in_ms / 1000))
    for i in range(n_in):
        out[i] = int(out[i] * i / n_in)
    n_outf = min(len(out), int(rate * fade_out_ms / 1000))
    for i in range(n_outf):
        out[len(out) - 1 - i] = int(out[len(out) - 1 - i] * i / n_outf)
    return out


# ---------------------------------------------------------------- voice packs

@dataclass(frozen=True)
class Timing:
    """Milliseconds of silence in a rendered announcement."""
    lead: int = 0
    after_chime: int = 250
    between_words: int = 40
    pause: int = 220
    tail: int = 200


@dataclass(frozen=True)
class Clip:
    word: str
    path: Path
    frames: bytes
    nframes: int


@dataclass(frozen=True)
class Segment:
    """One piece of a rendered announcement: kind is 'silence', 'chime', 'clip' (from the
    pack) or 'espeak' (fallback); `word` as the manifest spells it (as given for 'espeak'),
    `nframes` its length."""
    kind: str
    nframes: int
    word: str = ""


@dataclass
class Rendered:
    format: AudioFormat
    frames: bytes
    segments: list[Segment]
    fallback_words: list[str] = field(default_factory=list)
    skipped_words: list[str] = field(default_factory=list)
    path: Path | None = None

    @property
    def nframes(self) -> int:
        return len(self.frames) // (self.format.channels * self.format.sampwidth)

    @property
    def duration(self) -> float:
        return self.nframes / self.format.rate

    def wav_bytes(self) -> bytes:
        buf = io.BytesIO()
        write_wav(buf, self.format, self.frames)
        return buf.getvalue()

    def write(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        tmp = path.with_name(path.name + ".part")
        write_wav(tmp, self.format, self.frames)
        os.replace(tmp, path)
        self.path = path
        return path


def _convert_hint(path: Path, fmt: AudioFormat) -> str:
    return (f"convert it to {fmt}, e.g. `sox '{path.name}' -r {fmt.rate} -c {fmt.channels} -b 16 "
            f"'{path.stem}-fixed.wav'` and point the manifest at the new file, or change "
            f"[pack] sample_rate/channels if the whole pack is recorded that way")


class VoicePack:
    """A folder of word clips with a `pack.toml` manifest (see the module text).

    Every clip is loaded and checked when the pack is opened, so a broken pack fails at
    start-up with a `VoicePackError` naming the file, not in the middle of a call.
    `fallback`: speak words missing from the pack with espeak-ng (if installed).
    `timing`: override [timing] values (milliseconds)."""

    def __init__(self, folder: str | os.PathLike = DEFAULT_PACK, *, fallback: bool = True,
                 espeak: str = "espeak-ng", timing: Mapping[str, int] | None = None):
        self.folder = Path(folder)
        manifest = self.folder / MANIFEST
        if not manifest.is_file():
            raise VoicePackError(f"{manifest}: no voice pack manifest here; a voice pack is a folder "
                                 f"with {MANIFEST} and WAV clips (see display/voicepack/README.md)")
        try:
            data = tomllib.loads(manifest.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise VoicePackError(f"{manifest}: not valid TOML ({e}); fix the file") from e
        pack = data.get("pack", {})
        self.name = str(pack.get("name", self.folder.name))
        rate, channels = pack.get("sample_rate"), pack.get("channels", 1)
        if not isinstance(rate, int) or rate < 4000 or rate > 192000:
            raise VoicePackError(f"{manifest}: [pack] sample_rate must be the clips' rate in Hz "
                                 f"(e.g. 16000), not {rate!r}")
        if channels not in (1, 2):
            raise VoicePackError(f"{manifest}: [pack] channels must be 1 or 2, not {channels!r}")
        self.format = AudioFormat(rate, channels, SAMPLE_WIDTH)

        values = {**data.get("timing", {}), **(timing or {})}
        unknown = set(values) - set(Timing.__dataclass_fields__)
        if unknown:
            raise VoicePackError(f"{manifest}: unknown [timing] keys {sorted(unknown)}; known: "
                                 f"{sorted(Timing.__dataclass_fields__)}")
        for k, v in values.items():
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 10000:
                raise VoicePackError(f"{manifest}: [timing] {k} must be milliseconds 0-10000, not {v!r}")
        self.timing = Timing(**values)

        fb = data.get("fallback", {})
        self.fallback_voice = str(fb.get("voice", "vi"))
        self.fallback_speed = int(fb.get("speed", 150))
        self._espeak = shutil.which(espeak) if fallback else None
        self._fallback_cache: dict[str, bytes | None] = {}
        self._lock = threading.Lock()

        chime = pack.get("chime", "chime.wav")
        self.chime = self._load(str(chime), "the chime", manifest) if chime else None
        self.clips: dict[str, Clip] = {}
        words = data.get("words", {})
        if not isinstance(words, dict):
            raise VoicePackError(f"{manifest}: [words] must map each word to its WAV file")
        for word, file in words.items():
            key = word_key(word)
            if not key.strip("_"):
                raise VoicePackError(f"{manifest}: [words] {word!r} is not a word")
            if key in self.clips:
                raise VoicePackError(f"{manifest}: [words] {word!r} and {self.clips[key].word!r} are "
                                     f"the same word; keep one of them")
            self.clips[key] = self._load(str(file), f"the word {word!r}", manifest, word)

    def _load(self, file: str, what: str, manifest: Path, word: str = "") -> Clip:
        path = (self.folder / file).resolve()
        if not path.is_file():
            raise VoicePackError(f"{self.folder / file}: the clip for {what} in {manifest} does not "
                                 f"exist; record it or fix the file name in the manifest")
        try:
            fmt, frames = read_wav(path)
        except (wave.Error, EOFError, OSError) as e:
            raise VoicePackError(f"{path}: the clip for {what} is not a PCM WAV file ({e}); "
                                 f"{_convert_hint(path, self.format)}") from e
        if fmt != self.format:
            raise VoicePackError(f"{path}: the clip for {what} is {fmt}, but the pack ({manifest}) is "
                                 f"{self.format}; {_convert_hint(path, self.format)}")
        nframes = len(frames) // (fmt.channels * fmt.sampwidth)
        if nframes == 0:
            raise VoicePackError(f"{path}: the clip for {what} has no audio; record it again")
        return Clip(word, path, frames, nframes)

    # -- queries
    @property
    def words(self) -> list[str]:
        return sorted(c.word for c in self.clips.values())

    def has(self, word: str) -> bool:
        return word_key(word) in self.clips

    def missing(self, words: Iterable[str]) -> list[str]:
        """The words (of e.g. `speller.VOCABULARY`) the pack has no clip for, sorted."""
        return sorted({w for w in words if not _is_pause(w) and not self.has(w)})

    @property
    def can_fall_back(self) -> bool:
        return self._espeak is not None

    # -- rendering
    def _silence(self, ms: int) -> bytes:
        n = int(round(ms * self.format.rate / 1000))
        return bytes(n * self.format.channels * self.format.sampwidth)

    def _espeak_frames(self, word: str) -> bytes | None:
        """The pack-format frames of `word` spoken by espeak-ng, trimmed; None if impossible."""
        key = word_key(word)
        with self._lock:
            if key in self._fallback_cache:
                return self._fallback_cache[key]
        frames = None
        if self._espeak is None:
            log.error("voice pack %s has no clip for %r and espeak-ng is not available: the word is "
                      "left out (record it, or install espeak-ng)", self.folder, word)
        else:
            cmd = [self._espeak, "-v", self.fallback_voice, "-s", str(self.fallback_speed), "-z", "--stdout"]
            try:
                # The text goes in on stdin: a word starting with '-' must not become an option.
                p = subprocess.run(cmd, input=word.encode("utf-8"), capture_output=True, timeout=30, check=True)
                fmt, raw = read_wav(p.stdout)
                if fmt.sampwidth != 2:
                    raise ValueError(f"espeak-ng gave {fmt}")
                mono = trim_silence(to_mono(_samples(raw), fmt.channels), fmt.rate)
                mono = resample(mono, fmt.rate, self.format.rate)
                if self.format.channels == 2:
                    mono = array.array("h", itertools.chain.from_iterable(zip(mono, mono)))
                frames = _frames(mono)
                log.warning("voice pack %s has no clip for %r: spoken by espeak-ng (%s)",
                            self.folder, word, " ".join(cmd))
            except (OSError, subprocess.SubprocessError, wave.Error, EOFError, ValueError) as e:
                log.error("voice pack %s has no clip for %r and espeak-ng failed (%s): the word is "
                          "left out", self.folder, word, e)
            if frames is not None and not frames:
                log.error("espeak-ng produced only silence for %r: the word is left out", word)
                frames = None
        with self._lock:
            self._fallback_cache[key] = frames
        return frames

    def render(self, words: Iterable[str], out_path: str | os.PathLike | None = None) -> Rendered:
        """Join [lead] chime [after_chime] word [between_words] word … [tail] into one WAV.
        A PAUSE token (or any token without letters or digits) between two words makes their
        silence `pause` instead of `between_words`. Written to `out_path` if given; the
        result also gives `wav_bytes()`."""
        t = self.timing
        parts: list[bytes] = []
        segments: list[Segment] = []
        result = Rendered(self.format, b"", segments)
        bpf = self.format.channels * self.format.sampwidth

        def add(kind: str, frames: bytes, word: str = "") -> None:
            if frames or kind != "silence":
                parts.append(frames)
                segments.append(Segment(kind, len(frames) // bpf, word))

        add("silence", self._silence(t.lead))
        if self.chime is not None:
            add("chime", self.chime.frames)
            add("silence", self._silence(t.after_chime))
        previous_word = False
        pause = False
        for token in words:
            if not token or not token.strip():
                continue
            if _is_pause(token):
                pause = previous_word
                continue
            clip = self.clips.get(word_key(token))
            if clip is not None:
                kind, frames, word = "clip", clip.frames, clip.word
            else:
                word = token
                frames = self._espeak_frames(token)
                if frames is None:
                    result.skipped_words.append(token)
                    continue
                kind = "espeak"
                result.fallback_words.append(token)
            if previous_word:
                add("silence", self._silence(t.pause if pause else t.between_words))
            add(kind, frames, word)
            previous_word, pause = True, False
        add("silence", self._silence(t.tail))
        result.frames = b"".join(parts)
        if out_path is not None:
            result.write(out_path)
        return result

    def __repr__(self) -> str:
        return f"VoicePack({str(self.folder)!r}, {len(self.clips)} words, {self.format})"


# ---------------------------------------------------------------- the announcer

PLAYERS: dict[str, list[str]] = {
    "aplay": ["aplay", "-q"],      # ALSA
    "paplay": ["paplay"],          # PulseAudio / PipeWire
    "pw-play": ["pw-play"],        # PipeWire
    "play": ["play", "-q"],        # sox
    "afplay": ["afplay"],          # macOS
}


def player_command(player: str | Sequence[str] | None) -> list[str] | None:
    """The command that plays a WAV file: None/'none' (render only), 'auto' (the first of
    aplay, paplay, pw-play, play, afplay found), a name from PLAYERS, or a command line
    (string or list) where '{wav}' is the file, appended at the end if absent."""
    if player is None:
        return None
    if isinstance(player, str):
        name = player.strip()
        if name.lower() in ("", "none", "off"):
            return None
        if name.lower() == "auto":
            for cmd in PLAYERS.values():
                if shutil.which(cmd[0]):
                    return list(cmd)
            log.warning("no audio player found (tried %s): announcements are rendered, not played",
                        ", ".join(PLAYERS))
            return None
        if name in PLAYERS:
            return list(PLAYERS[name])
        return shlex.split(name)
    return [str(a) for a in player]


@dataclass
class Announcement:
    """One announcement and what happened to it. Times are `time.monotonic()` seconds:
    `started` when the worker took it (render, then play), `finished` when the player exited."""
    index: int
    ticket: str
    counter: int | str
    seq: int | None
    recall: bool
    words: list[str]
    text: str
    enqueued: float
    state: str = "queued"            # queued, speaking, done, failed, dropped
    started: float | None = None
    finished: float | None = None
    wav_path: Path | None = None
    duration: float | None = None    # seconds of audio in the WAV
    fallback_words: list[str] = field(default_factory=list)
    skipped_words: list[str] = field(default_factory=list)
    error: str | None = None


_STOP = object()


class Announcer:
    """Speaks announcements one after the other from one worker thread.

    `announce()` puts a call on the queue and returns at once; the worker renders it with
    the voice pack, writes the WAV into `out_dir`, and runs the player until it exits
    before taking the next one, with `gap_s` of quiet in between. Nothing is dropped or
    merged: a burst of calls is spoken each once, in order; a recall of the same ticket is
    spoken again. Deduplication of repeated *events* belongs to the display (by `seq`).

    `player`: see `player_command` ('auto' by default; None to only render, for tests and
    headless machines). `keep_files`: how many recent WAV files stay in `out_dir`;
    `max_history`: how many finished announcements `history` keeps (a TV runs for months).
    `on_event(kind, announcement)` is called from the worker thread with kind 'start' and
    'finish' (a Kivy display must hop to its main thread with Clock.schedule_once)."""

    def __init__(self, pack: VoicePack | str | os.PathLike | None = None, *,
                 player: str | Sequence[str] | None = "auto", out_dir: str | os.PathLike | None = None,
                 keep_files: int = 50, gap_s: float = 0.5, style: SpellStyle = NORTH,
                 pauses: bool = True, player_timeout_s: float = 30.0, max_history: int = 1000,
                 on_event: Callable[[str, Announcement], None] | None = None):
        self.pack = pack if isinstance(pack, VoicePack) else VoicePack(pack or DEFAULT_PACK)
        self.player = player_command(player)
        self.out_dir = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="motcua-voice-"))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.keep_files = max(1, keep_files)
        self.gap_s = gap_s
        self.style = style
        self.pauses = pauses
        self.player_timeout_s = player_timeout_s
        self.on_event = on_event
        self.max_history = max(1, max_history)
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._history: list[Announcement] = []
        self._unfinished = 0
        self._count = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._files: list[Path] = []

    # -- life cycle
    def start(self) -> "Announcer":
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="motcua-announcer", daemon=True)
                self._thread.start()
        return self

    def stop(self, drain: bool = True, timeout: float | None = None) -> None:
        """Stop the worker: after the queue is spoken (`drain`) or after the announcement being
        spoken now (the rest are marked 'dropped')."""
        with self._lock:
            thread, self._stopping = self._thread, True
        if not drain:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, Announcement):
                    self._finish(item, "dropped")
        self._queue.put(_STOP)
        if thread is not None:
            thread.join(timeout)

    def __enter__(self) -> "Announcer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the API the display uses
    def announce(self, ticket: str, counter: int | str, *, seq: int | None = None,
                 recall: bool = False) -> Announcement:
        """Queue "Mời công dân có số thứ tự <ticket> đến quầy số <counter>"; returns at once.
        A label the speller cannot speak raises ValueError here, in the caller."""
        words = announcement_words(ticket, counter, pauses=self.pauses, style=self.style)
        a = Announcement(index=next(self._count), ticket=ticket, counter=counter, seq=seq,
                         recall=recall, words=words,
                         text=announcement_text(ticket, counter, style=self.style),
                         enqueued=time.monotonic())
        with self._lock:
            if self._stopping:
                raise RuntimeError("the announcer is stopped")
            self._history.append(a)
            self._unfinished += 1
        self.start()
        self._queue.put(a)
        return replace(a)

    @property
    def history(self) -> list[Announcement]:
        """Copies of the announcements (the last `max_history` finished ones and all pending),
        in the order they were queued."""
        with self._lock:
            return [replace(a, words=list(a.words), fallback_words=list(a.fallback_words),
                            skipped_words=list(a.skipped_words)) for a in self._history]

    @property
    def pending(self) -> int:
        """Announcements queued or being spoken."""
        with self._lock:
            return self._unfinished

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until everything queued has been spoken; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout)

    # -- the worker
    def _run(self) -> None:
        last_end = 0.0
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            quiet = self.gap_s - (time.monotonic() - last_end)
            if quiet > 0 and last_end:
                time.sleep(quiet)
            try:
                self._speak(item)
            except Exception as e:  # never let one announcement kill the voice
                log.exception("announcement %s failed", item.text)
                self._finish(item, "failed", error=f"{type(e).__name__}: {e}")
            last_end = time.monotonic()

    def _notify(self, kind: str, a: Announcement) -> None:
        if self.on_event is not None:
            try:
                self.on_event(kind, replace(a))
            except Exception:
                log.exception("on_event(%r) failed", kind)

    def _speak(self, a: Announcement) -> None:
        with self._lock:
            a.state, a.started = "speaking", time.monotonic()
        safe = re.sub(r"[^0-9A-Za-z]+", "_", f"{a.ticket}-q{a.counter}")[:40]
        path = self.out_dir / f"{a.index:06d}-{safe}.wav"
        rendered = self.pack.render(a.words, path)
        with self._lock:
            a.wav_path, a.duration = path, rendered.duration
            a.fallback_words, a.skipped_words = list(rendered.fallback_words), list(rendered.skipped_words)
        self._files.append(path)
        self._notify("start", a)
        error = None
        if self.player is not None:
            cmd = [arg.replace("{wav}", str(path)) for arg in self.player]
            if not any("{wav}" in arg for arg in self.player):
                cmd.append(str(path))
            try:
                p = subprocess.run(cmd, capture_output=True, timeout=rendered.duration + self.player_timeout_s)
                if p.returncode != 0:
                    error = (f"player {cmd[0]} exited {p.returncode}: "
                             f"{p.stderr.decode(errors='replace').strip()[:300]}")
            except subprocess.TimeoutExpired:
                error = f"player {cmd[0]} did not finish within {rendered.duration + self.player_timeout_s:.0f} s"
            except OSError as e:
                error = f"player {cmd[0]} could not run: {e}"
            if error:
                log.error("announcement %r: %s", a.text, error)
        self._finish(a, "failed" if error else "done", error=error)
        self._notify("finish", a)
        self._prune()

    def _finish(self, a: Announcement, state: str, error: str | None = None) -> None:
        with self._idle:
            a.state, a.finished, a.error = state, time.monotonic(), error
            self._unfinished -= 1
            excess = len(self._history) - self.max_history
            while excess > 0 and self._history[0].finished is not None:
                self._history.pop(0)
                excess -= 1
            self._idle.notify_all()

    def _prune(self) -> None:
        while len(self._files) > self.keep_files:
            old = self._files.pop(0)
            try:
                old.unlink()
            except OSError:
                pass


# ---------------------------------------------------------------- command line

def main(argv: Sequence[str] | None = None) -> int:
    """python -m motcua.display.voice [--pack DIR] [--out FILE] [--play PLAYER] TICKET COUNTER
    python -m motcua.display.voice --check [--pack DIR]"""
    import argparse

    from motcua.display.speller import VOCABULARY

    ap = argparse.ArgumentParser(prog="python -m motcua.display.voice", description="Render or play an announcement, "
                                 "or check a voice pack.")
    ap.add_argument("--pack", default=str(DEFAULT_PACK), help="voice pack folder (default: the shipped pack)")
    ap.add_argument("--check", action="store_true", help="load the pack and list the words it lacks")
    ap.add_argument("--out", help="write the announcement to this WAV file")
    ap.add_argument("--play", default=None, help="player: auto, aplay, paplay, play, or a command")
    ap.add_argument("ticket", nargs="?")
    ap.add_argument("counter", nargs="?")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        pack = VoicePack(args.pack)
    except VoicePackError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.check:
        missing = pack.missing(VOCABULARY)
        print(f"{pack}: {len(pack.clips)} words; missing: {', '.join(missing) or 'none'}")
        if missing:
            print("missing words are spoken by espeak-ng" if pack.can_fall_back
                  else "espeak-ng is not installed: missing words would be left out")
        return 1 if missing else 0
    if not args.ticket or not args.counter:
        ap.error("give TICKET and COUNTER, or --check")
    counter: int | str = int(args.counter) if args.counter.isdigit() else args.counter
    words = announcement_words(args.ticket, counter, pauses=True)
    print(announcement_text(args.ticket, counter))
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="motcua-voice-")) / "announcement.wav"
    rendered = pack.render(words, out)
    print(f"{out}: {rendered.duration:.2f} s")
    cmd = player_command(args.play)
    if cmd is not None:
        subprocess.run([*cmd, str(out)], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
