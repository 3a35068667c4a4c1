"""Generate the default voice pack (display/voicepack/) with espeak-ng's Vietnamese voice.

    python -m motcua.display.make_voicepack [--out display/voicepack] [--voice vi] [--speed 150] [--rate 16000]

One clip per word the speller and the announcement sentence can produce
(`speller.VOCABULARY`: number words in both the northern and southern forms,
letter names, "mời công dân có số thứ tự … đến quầy số …"), each spoken by
`espeak-ng -v <voice> --stdout`, with its leading and trailing silence trimmed
(amplitude threshold) so the joined words flow, resampled to `--rate` mono
16-bit, and one gain for the whole pack so its loudest clip peaks at -1 dBFS.
Plus a chime synthesised here (two soft sine tones, stdlib only) and the
manifest pack.toml. Clips are named by `voice.word_key` (ASCII Telex, e.g.
"mười" -> muwowif.wav). WAV files in the folder that the new manifest does not
name are deleted; README.md and LICENSE are left alone.

Needs espeak-ng (`apt-get install -y espeak-ng`). The output depends only on
the espeak-ng version and the options, so re-running it gives the same files.
"""
from __future__ import annotations

import argparse
import array
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

from motcua.display.speller import VOCABULARY
from motcua.display.voice import (DEFAULT_PACK, MANIFEST, AudioFormat, Timing, _frames, _samples, read_wav,
                           resample, to_mono, trim_silence, word_key, write_wav)

PEAK = 0.89          # -1 dBFS: the loudest clip after the pack-wide gain
CHIME_PEAK = 0.45    # the chime is softer than speech


def espeak_version(espeak: str) -> str:
    out = subprocess.run([espeak, "--version"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"(\d+\.\d+(?:\.\d+)?)", out)
    return f"espeak-ng {m.group(1)}" if m else "espeak-ng"


def check_voice(espeak: str, voice: str) -> None:
    out = subprocess.run([espeak, f"--voices={voice.split('-')[0]}"], capture_output=True, text=True,
                         check=True).stdout
    names = {line.split()[1].lower() for line in out.splitlines()[1:] if len(line.split()) > 1}
    if voice.lower() not in names:
        raise SystemExit(f"espeak-ng has no voice {voice!r} (it has: {', '.join(sorted(names)) or 'none'}); "
                         f"check `espeak-ng --voices=vi`")


def speak(espeak: str, word: str, voice: str, speed: int, pitch: int) -> tuple[int, array.array]:
    """(rate, mono samples) of `word` spoken by espeak-ng, silence trimmed."""
    p = subprocess.run([espeak, "-v", voice, "-s", str(speed), "-p", str(pitch), "-z", "--stdout"],
                       input=word.encode("utf-8"), capture_output=True, check=True, timeout=60)
    fmt, frames = read_wav(p.stdout)
    if fmt.sampwidth != 2:
        raise SystemExit(f"espeak-ng gave {fmt} for {word!r}; expected 16-bit PCM")
    samples = trim_silence(to_mono(_samples(frames), fmt.channels), fmt.rate)
    if not samples:
        raise SystemExit(f"espeak-ng produced only silence for {word!r}")
    return fmt.rate, samples


def chime(rate: int) -> array.array:
    """A soft two-tone chime ("ding-dong", E5 then C5), about 1.3 s: sine tones with a touch
    of second harmonic, a short attack and an exponential decay."""
    length = 1.3
    n = int(rate * length)
    out = [0.0] * n
    for freq, start, dur in ((659.25, 0.0, 0.75), (523.25, 0.42, 0.88)):
        s0, count = int(start * rate), int(dur * rate)
        for i in range(count):
            if s0 + i >= n:
                break
            t = i / rate
            env = min(1.0, t / 0.008) * math.exp(-t / 0.32)
            tail = min(1.0, (count - i) / (0.05 * rate))   # fade the end of each tone
            v = math.sin(2 * math.pi * freq * t) + 0.18 * math.sin(4 * math.pi * freq * t)
            out[s0 + i] += env * tail * v
    peak = max(abs(v) for v in out) or 1.0
    return array.array("h", (int(round(v / peak * CHIME_PEAK * 32767)) for v in out))


def toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string here


def build(out: Path, voice: str = "vi", speed: int = 150, pitch: int = 50, rate: int = 16000,
          espeak: str = "espeak-ng", quiet: bool = False) -> dict[str, str]:
    exe = shutil.which(espeak)
    if exe is None:
        raise SystemExit(f"{espeak} is not installed: apt-get install -y espeak-ng")
    check_voice(exe, voice)
    out.mkdir(parents=True, exist_ok=True)

    words = sorted(VOCABULARY, key=word_key)
    keys = [word_key(w) for w in words]
    assert len(set(keys)) == len(keys), "two words share a key"
    clips: dict[str, array.array] = {}
    for word in words:
        src_rate, samples = speak(exe, word, voice, speed, pitch)
        clips[word] = resample(samples, src_rate, rate)
        if not quiet:
            print(f"  {word:8} {len(clips[word]) / rate:5.2f} s", file=sys.stderr)

    loudest = max(max(abs(min(c)), abs(max(c))) for c in clips.values())
    gain = PEAK * 32767 / loudest
    fmt = AudioFormat(rate, 1, 2)
    files: dict[str, str] = {}
    for word, samples in clips.items():
        scaled = array.array("h", (max(-32768, min(32767, int(round(s * gain)))) for s in samples))
        name = f"{word_key(word)}.wav"
        write_wav(out / name, fmt, _frames(scaled))
        files[word] = name
    write_wav(out / "chime.wav", fmt, _frames(chime(rate)))

    t = Timing()
    lines = [
        "# Voice pack: one WAV clip per word, joined at run time by display/voice.py.",
        f"# Generated by `python -m motcua.display.make_voicepack` with {espeak_version(exe)},",
        f"# voice {voice}, speed {speed}, pitch {pitch}. To use your own recordings see README.md.",
        "",
        "[pack]",
        f"name = {toml_str(f'espeak-ng {voice} (default)')}",
        f"sample_rate = {rate}          # every clip: this rate, mono, 16-bit PCM",
        "channels = 1",
        'chime = "chime.wav"',
        "",
        "[timing]                     # milliseconds of silence",
        f"lead = {t.lead}                     # before the chime",
        f"after_chime = {t.after_chime}",
        f"between_words = {t.between_words}",
        f"pause = {t.pause}                 # between the phrases of the sentence",
        f"tail = {t.tail}",
        "",
        "[fallback]                   # espeak-ng speaks words that have no clip here",
        f"voice = {toml_str(voice)}",
        f"speed = {speed}",
        "",
        "[words]",
    ]
    lines += [f"{toml_str(w)} = {toml_str(files[w])}" for w in words]
    (out / MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")

    keep = set(files.values()) | {"chime.wav"}
    for stale in out.glob("*.wav"):
        if stale.name not in keep:
            stale.unlink()
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m motcua.display.make_voicepack", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_PACK)
    ap.add_argument("--voice", default="vi", help="espeak-ng voice: vi (northern), vi-vn-x-central, vi-vn-x-south")
    ap.add_argument("--speed", type=int, default=150, help="words per minute (espeak-ng -s)")
    ap.add_argument("--pitch", type=int, default=50, help="0-99 (espeak-ng -p)")
    ap.add_argument("--rate", type=int, default=16000, help="sample rate of the pack in Hz")
    ap.add_argument("--espeak", default="espeak-ng")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    files = build(args.out, args.voice, args.speed, args.pitch, args.rate, args.espeak, args.quiet)
    size = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    print(f"{args.out}: {len(files)} words + chime, {size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
