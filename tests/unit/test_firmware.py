"""The firmware's C++ core (hardware/firmware/padproto.cpp) against the Python
one (hardware/padproto.py): both must parse, decode and behave identically.

host_test.cpp is compiled with g++ and driven through stdin; the same commands
run here against the Python code, and the two transcripts must match line for
line: the shared frame examples (tests/support/pad_frames.json) and mutations of them,
random byte streams, a scripted pad scenario and random scenarios. The Arduino
sketch itself is compiled on the host against stub Arduino headers and run
through button bounces, serial frames and two power cycles.

g++ is required: these tests fail (never skip) when it is missing.
"""
from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from motcua.hardware import padproto as pp
from motcua.hardware.padproto import (
    Ack, Beep, Cancel, Decoder, FrameError, Led, PadState, Ping, Prompt, Who, parse,
)

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "hardware" / "firmware"
CASES = __import__("json").loads((ROOT / "tests" / "support" / "pad_frames.json").read_text(encoding="utf-8"))
CXXFLAGS = ["-std=c++11", "-Wall", "-Wextra", "-Werror"]


def gxx() -> str:
    path = shutil.which("g++")
    if path is None:
        pytest.fail("g++ is not installed: the firmware core cannot be checked. Install it "
                    "(apt-get install -y g++; add g++ to APT_PACKAGES in the Makefile).")
    return path


@pytest.fixture(scope="module")
def host_test(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("firmware") / "host_test"
    result = subprocess.run(
        [gxx(), *CXXFLAGS, "-I", str(FIRMWARE), str(FIRMWARE / "padproto.cpp"),
         str(FIRMWARE / "host_test.cpp"), "-o", str(out)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"g++ failed:\n{result.stderr}"
    return out


def run_cpp(binary: Path, commands: list[str]) -> list[list[str]]:
    result = subprocess.run([str(binary)], input="\n".join(commands) + "\n",
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return split_transcript(result.stdout)


def split_transcript(text: str) -> list[list[str]]:
    blocks, current = [], []
    for line in text.splitlines():
        if line == "--":
            blocks.append(current)
            current = []
        else:
            current.append(line)
    assert current == [], f"output after the last command: {current}"
    return blocks


# --- the same commands in Python -------------------------------------------

def fmt(frame: pp.Frame) -> str:
    return " ".join([frame.TYPE, *(str(v) for v in frame.values())])


def wire(frame: pp.Frame) -> str:
    return frame.encode()[:-2].decode()


class PyHarness:
    """host_test.cpp's commands, run on hardware/padproto.py."""

    def __init__(self):
        self.stream = Decoder(name="stream")
        self.pad: PadState | None = None
        self.persisted: list[int] = []

    def run(self, commands: list[str]) -> list[list[str]]:
        return [self.command(c) for c in commands]

    def command(self, line: str) -> list[str]:
        cmd, *args = line.split()
        out: list[str] = []
        if cmd == "parse":
            try:
                frame = parse(bytes.fromhex(args[0]) if args else b"")
            except FrameError as exc:
                out.append(f"ERR {exc.reason}")
            else:
                out.append(f"OK {fmt(frame)} | {wire(frame)}")
        elif cmd == "stream":
            for item in self.stream.feed(bytes.fromhex(args[0]) if args else b""):
                if isinstance(item, FrameError):
                    out.append(f"ERR {item.reason} {item.size}")
                else:
                    out.append(f"FRAME {fmt(item)}")
        elif cmd == "reset":
            self.stream.reset()
        elif cmd == "start":
            device, fw, boot, stored, buttons, lockout, hb, now = args
            try:
                self.pad = PadState(device, int(boot), int(stored), buttons=int(buttons),
                                    lockout_ms=int(lockout), hb_interval_ms=int(hb),
                                    fw_version=fw, persist=self.persisted.append)
            except ValueError:
                out.append("BADCONFIG")
            else:
                out += self.sent(self.pad.start(int(now)))
        elif cmd == "rx":
            out += self.sent(self.pad.receive(bytes.fromhex(args[1]) if len(args) > 1 else b"",
                                              int(args[0])))
        elif cmd == "press":
            out += self.sent(self.pad.on_press(int(args[0]), int(args[1])))
        elif cmd == "tick":
            out += self.sent(self.pad.tick(int(args[0])))
        elif cmd == "leds":
            out.append(f"leds {self.pad.leds(int(args[0]))}")
        elif cmd == "beep":
            beep = self.pad.take_beep()
            out.append(f"beep {beep[0]} {beep[1]}" if beep else "beep none")
        elif cmd == "state":
            now = int(args[0])
            p = self.pad
            out.append(f"state prompt={p.prompt or '-'} locked={int(p.locked)} "
                       f"unacked={len(p.unacked)} next_seq={p.next_seq} rx_errors={p.rx_errors} "
                       f"dropped={p.dropped} online={int(p.host_online(now))}")
        else:
            out.append(f"UNKNOWN {cmd}")
        out += [f"persist {v}" for v in self.persisted]
        self.persisted.clear()
        return out

    def sent(self, frames: list[pp.Frame]) -> list[str]:
        return [f"> {wire(f)}" for f in frames]


def compare(host_test: Path, commands: list[str]) -> list[list[str]]:
    cpp = run_cpp(host_test, commands)
    py = PyHarness().run(commands)
    assert len(cpp) == len(commands)
    for command, c, p in zip(commands, cpp, py):
        assert c == p, f"C++ and Python differ on: {command}\n  C++:    {c}\n  Python: {p}"
    return cpp


# --- parsing ---------------------------------------------------------------

def test_gxx_is_installed():
    assert Path(gxx()).exists()


def test_shared_frame_examples_in_cpp(host_test):
    commands = [f"parse {c['frame'].encode('utf-8').hex()}" for c in CASES]
    results = compare(host_test, commands)
    for case, result in zip(CASES, results):
        if case["valid"]:
            frame = parse(case["frame"])
            assert result == [f"OK {fmt(frame)} | {case['frame'].rstrip(chr(13) + chr(10))}"]
            assert frame.fields() == case["fields"]
        else:
            assert result == [f"ERR {case['reason']}"], case


def _mutations(data: bytes, rng: random.Random) -> list[bytes]:
    out = [data] + [data[:i] for i in range(len(data))]          # itself, every truncation
    out += [data[:i] + data[i + 1:] for i in range(len(data))]    # every deletion
    for _ in range(20):
        i = rng.randrange(len(data)) if data else 0
        b = rng.choice([0, 9, 13, 10, 0x20, 0x24, 0x2A, 0x2C, 0x2D, 0x30, 0x39, 0x41, 0x46,
                        0x61, 0x7E, 0x7F, 0xC6, rng.randrange(256)])
        out.append(data[:i] + bytes([b]) + data[i + 1:])
        out.append(data[:i] + bytes([b]) + data[i:])
    return out


def test_mutated_frames_parse_the_same(host_test):
    rng = random.Random(5)
    lines = []
    for case in CASES:
        lines += _mutations(case["frame"].encode("utf-8")[:120], rng)
    lines = list(dict.fromkeys(lines))
    results = compare(host_test, [f"parse {line.hex()}" for line in lines])
    reasons = {r[0].split()[1] for r in results if r[0].startswith("ERR")}
    assert reasons == set(pp.REASONS) - {pp.GARBAGE, pp.TRUNCATED}
    assert sum(r[0].startswith("OK") for r in results) >= sum(c["valid"] for c in CASES)


def _random_stream(rng: random.Random) -> bytes:
    frames = [Ping("7"), Who(), Prompt("A012", 4, 30), Ack(17, 42), Led(256, 2000),
              pp.Rating(4294967295, 65535, "-", 8, 4294967295), pp.Hb(1, "Z" * 16, 1, 255, 65535)]
    parts = []
    for _ in range(rng.randint(1, 30)):
        kind = rng.random()
        if kind < 0.4:
            parts.append(rng.choice(frames).encode())
        elif kind < 0.6:
            parts.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 20))))
        elif kind < 0.75:
            parts.append(rng.choice([b"$", b"\r", b"\n", b"*", b"\r\n", b",", b"*0B"]))
        elif kind < 0.85:
            parts.append(b"$" + bytes(rng.choice(b"ABC,*") for _ in range(rng.randint(80, 200))))
        else:
            good = bytearray(rng.choice(frames).encode())
            good[rng.randrange(len(good))] = rng.randrange(256)
            parts.append(bytes(good))
    return b"".join(parts)


def test_random_streams_decode_the_same(host_test):
    rng = random.Random(11)
    commands = []
    for _ in range(300):
        data = _random_stream(rng)
        pos = 0
        while pos < len(data):                     # in random pieces
            cut = rng.randint(1, 64)
            commands.append(f"stream {data[pos:pos + cut].hex()}")
            pos += cut
        if rng.random() < 0.3:
            commands.append("reset")
    results = compare(host_test, commands)
    lines = [line for block in results for line in block]
    assert any(line.startswith("FRAME ") for line in lines)
    for reason in (pp.GARBAGE, pp.TRUNCATED, pp.TOO_LONG, pp.BAD_CHECKSUM):
        assert any(line.startswith(f"ERR {reason} ") for line in lines), reason


# --- the pad ---------------------------------------------------------------

def rx(now: int, frame: pp.Frame | bytes) -> str:
    data = frame if isinstance(frame, bytes) else frame.encode()
    return f"rx {now} {data.hex()}"


SCENARIO = [
    "start PAD-0001 1.0.0 42 17 4 3000 5000 0",   # 0   HELLO, persist 33
    rx(2000, Prompt("A012", 4, 30)),              # 1   HB with A012
    "leds 2000",                                  # 2   buttons 1-4
    "press 2 9000",                               # 3   RATING seq 17, LOCK
    "beep",                                       # 4   confirmation beep
    "leds 9000",                                  # 5   Cam on + button 2
    "leds 9250",                                  # 6   Cam on, blink off
    "press 2 9400",                               # 7   ignored (lock-out)
    "press 1 9450",                               # 8   ignored (lock-out)
    "tick 9499",                                  # 9   HB (5 s after the HB at 2000 + 1st tick)
    "tick 9500",                                  # 10  RATING again, age 500
    "tick 10499",                                 # 11  nothing
    "tick 10500",                                 # 12  RATING again, age 1500
    rx(10600, Ack(17, 42)),                       # 13  nothing
    rx(10700, Ack(17, 42)),                       # 14  duplicate: nothing
    "tick 12000",                                 # 15  LOCK,0,2
    "state 12000",                                # 16
    "press 4 13000",                              # 17  unprompted RATING, seq 18
    rx(13100, b"$ACK,18,42*40\r\n"),              # 18  bad checksum: rx_errors 1
    "tick 13500",                                 # 19  RATING 18 again
    rx(13600, Ack(18, 42)),                       # 20
    rx(14000, Ping("h1")),                        # 21  PONG
    rx(14000, Who()),                             # 22  HELLO
    rx(14100, Prompt("A012", 4, 30)),             # 23  refused: already rated
    rx(14200, Prompt("A013", 3, 5)),              # 24  taken (during lock-out)
    rx(14300, Cancel("A013")),                    # 25  cancelled
    rx(16500, Prompt("A014", 3, 1)),              # 26  taken, lock-out over: LOCK,0,0 first
    "tick 17499",                                 # 27  nothing
    "tick 17500",                                 # 28  timeout HB
    rx(18000, Led(0b1001, 500)),                  # 29
    "leds 18499",                                 # 30
    "leds 18500",                                 # 31
    rx(18600, Beep(440, 200)),                    # 32
    "beep",                                       # 33
    "beep",                                       # 34
    "state 33599",                                # 35  host heard 14999 ms ago: online
    "state 33600",                                # 36  silent 15 s: offline
]


def test_scripted_scenario(host_test):
    out = compare(host_test, SCENARIO)
    assert out[0] == ["> $HELLO,1,PAD-0001,1.0.0,42,4,3000*0A", "persist 33"]
    assert out[1] == ["> $HB,42,A012,0,0,0*62"]
    assert out[2] == ["leds 15"]
    assert out[3] == ["> $RATING,17,42,A012,2,0*5B", "> $LOCK,3000,0*38"]
    assert out[4] == ["beep 2000 80"]
    assert out[5] == [f"leds {pp.THANKS_LED | 0b10}"] and out[6] == [f"leds {pp.THANKS_LED}"]
    assert out[7] == out[8] == out[11] == []
    assert out[9] == [f"> {wire(pp.Hb(42, '-', 1, 1, 0))}"]       # locked, one rating unacked
    assert out[10] == [f"> {wire(pp.Rating(17, 42, 'A012', 2, 500))}"]
    assert out[12] == [f"> {wire(pp.Rating(17, 42, 'A012', 2, 1500))}"]
    assert out[13] == out[14] == []
    assert out[15] == [f"> {wire(pp.Lock(0, 2))}"]
    assert out[16] == ["state prompt=- locked=0 unacked=0 next_seq=18 rx_errors=0 dropped=0 online=1"]
    assert out[17] == [f"> {wire(pp.Rating(18, 42, '-', 4, 0))}", f"> {wire(pp.Lock(3000, 0))}"]
    assert out[18] == []
    assert out[19] == [f"> {wire(pp.Rating(18, 42, '-', 4, 500))}"]
    assert out[21] == [f"> {wire(pp.Pong('h1'))}"]
    assert out[22] == ["> $HELLO,1,PAD-0001,1.0.0,42,4,3000*0A"]
    assert out[23] == [f"> {wire(pp.Hb(42, '-', 1, 0, 1))}"]
    assert out[24] == [f"> {wire(pp.Hb(42, 'A013', 1, 0, 1))}"]
    assert out[25] == [f"> {wire(pp.Hb(42, '-', 1, 0, 1))}"]
    assert out[26] == [f"> {wire(pp.Lock(0, 0))}", f"> {wire(pp.Hb(42, 'A014', 0, 0, 1))}"]
    assert out[27] == [] and out[28] == [f"> {wire(pp.Hb(42, '-', 0, 0, 1))}"]
    assert out[30] == ["leds 9"] and out[31] == ["leds 0"]
    assert out[33] == ["beep 440 200"] and out[34] == ["beep none"]
    assert out[35] == ["state prompt=- locked=0 unacked=0 next_seq=19 rx_errors=1 dropped=0 online=1"]
    assert out[36][0].endswith("online=0")


def _random_host_frame(rng: random.Random, boot: int, stored: int) -> pp.Frame:
    ids = ["A1", "A2", "B7", "C-015.2511"]
    kind = rng.random()
    if kind < 0.3:
        return Prompt(rng.choice(ids), rng.randint(2, 8), rng.randint(1, 6))
    if kind < 0.4:
        return Cancel(rng.choice(ids))
    if kind < 0.7:
        return Ack(max(0, stored + rng.randint(-1, 25)), boot if rng.random() < 0.85 else (boot + 1) % 65536)
    if kind < 0.8:
        return Ping(rng.choice(["1", "h7", "tok"]))
    if kind < 0.85:
        return Who()
    if kind < 0.93:
        return Led(rng.randint(0, 511), rng.choice([0, 1, 300, 2000]))
    return Beep(rng.randint(50, 10000), rng.randint(1, 5000))


def _random_script(rng: random.Random) -> list[str]:
    boot = rng.randint(0, 65535)
    stored = rng.choice([0, 1, 15, 16, 17, 1000, 4294967000])
    buttons = rng.randint(2, 8)
    lockout = rng.choice([0, 1, 300, 3000, 60000])
    hb = rng.choice([1, 700, 5000, 60000])
    now = rng.randint(0, 100000)
    script = [f"start P{rng.randint(0, 999)} {rng.choice(['1.0.0', 'x'])} {boot} {stored} "
              f"{buttons} {lockout} {hb} {now}"]
    for _ in range(rng.randint(20, 90)):
        now += rng.choice([0, 1, 10, 100, 249, 250, 499, 500, 501, 1000, 1999, 2000, 3000, 7000])
        kind = rng.random()
        if kind < 0.3:
            script.append(f"press {rng.randint(0, 9)} {now}")
        elif kind < 0.5:
            script.append(f"tick {now}")
        elif kind < 0.8:
            data = _random_host_frame(rng, boot, stored).encode()
            if rng.random() < 0.1:                          # corrupted
                data = bytearray(data)
                data[rng.randrange(len(data) - 2)] ^= 1 << rng.randrange(7)
                data = bytes(data)
            if rng.random() < 0.2:                          # split across reads
                cut = rng.randrange(1, len(data))
                script.append(f"rx {now} {data[:cut].hex()}")
                now += rng.choice([0, 1, 5])
                data = data[cut:]
            script.append(f"rx {now} {data.hex()}")
        elif kind < 0.9:
            script.append(f"leds {now}")
        elif kind < 0.95:
            script.append("beep")
        else:
            script.append(f"state {now}")
    return script


def test_random_scenarios_behave_the_same(host_test):
    rng = random.Random(2024)
    commands = []
    for _ in range(250):
        commands += _random_script(rng)
    out = compare(host_test, commands)
    lines = [line for block in out for line in block]
    # The scripts did reach the interesting paths.
    for needle in ("> $RATING,", "> $LOCK,0,", "> $HB,", "> $PONG,", "> $HELLO,", "persist ",
                   "beep 2000 80", "dropped=1"):
        assert any(needle in line for line in lines), needle
    assert any(line.startswith("> $RATING,") and ",-," not in line for line in lines)


# --- the sketch, on stub Arduino headers -----------------------------------

ARDUINO_H = r"""
#pragma once
#include <stddef.h>
#include <stdint.h>
#define HIGH 1
#define LOW 0
#define INPUT 0
#define OUTPUT 1
#define INPUT_PULLUP 2
uint32_t millis();
void delay(unsigned long ms);
void pinMode(uint8_t pin, uint8_t mode);
int digitalRead(uint8_t pin);
void digitalWrite(uint8_t pin, uint8_t value);
void tone(uint8_t pin, unsigned int hz, unsigned long ms);
struct SerialStub {
  void begin(unsigned long baud);
  int available();
  int read();
  size_t write(const uint8_t *data, size_t len);
};
extern SerialStub Serial;
"""

EEPROM_H = r"""
#pragma once
#include <stdint.h>
#include <string.h>
extern uint8_t eeprom_bytes[1024];
extern unsigned eeprom_writes;
struct EEPROMStub {
  uint8_t read(int a) { return eeprom_bytes[a]; }
  void update(int a, uint8_t v) { if (eeprom_bytes[a] != v) { eeprom_bytes[a] = v; eeprom_writes++; } }
  template <class T> T &get(int a, T &t) { memcpy(&t, eeprom_bytes + a, sizeof(T)); return t; }
  template <class T> const T &put(int a, const T &t) {
    const uint8_t *p = reinterpret_cast<const uint8_t *>(&t);
    for (size_t i = 0; i < sizeof(T); i++) update(a + (int)i, p[i]);
    return t;
  }
};
extern EEPROMStub EEPROM;
"""

STUB_MAIN = r"""
// Runs the sketch with simulated time, pins, serial port and EEPROM.
//   pin <n> <0|1>     set an input pin's level (buttons are active low)
//   run <ms>          call loop() once per simulated millisecond
//   rx <text>         bytes for the serial port, CR LF added
//   out <n>           print output pin n's level
// Serial output is printed as "<ms> <line>", tones as "<ms> tone <hz> <ms>".
#include <stdio.h>
#include <string.h>
#include <string>
#include <iostream>
#include "Arduino.h"
#include "EEPROM.h"

void setup();
void loop();

uint8_t eeprom_bytes[1024];
unsigned eeprom_writes;
EEPROMStub EEPROM;
SerialStub Serial;
static uint32_t now_ms = 1000;
static int pins[32];
static std::string rx_buf, tx_line;

uint32_t millis() { return now_ms; }
void delay(unsigned long ms) { now_ms += ms; }
void pinMode(uint8_t pin, uint8_t mode) { if (mode == INPUT_PULLUP) pins[pin] = 1; }
int digitalRead(uint8_t pin) { return pins[pin]; }
void digitalWrite(uint8_t pin, uint8_t value) { pins[pin] = value; }
void tone(uint8_t, unsigned int hz, unsigned long ms) { printf("%u tone %u %lu\n", now_ms, hz, ms); }
void SerialStub::begin(unsigned long) {}
int SerialStub::available() { return (int)rx_buf.size(); }
int SerialStub::read() {
  if (rx_buf.empty()) return -1;
  int c = (unsigned char)rx_buf[0];
  rx_buf.erase(0, 1);
  return c;
}
size_t SerialStub::write(const uint8_t *data, size_t len) {
  for (size_t i = 0; i < len; i++) {
    char c = (char)data[i];
    if (c == '\n') {
      printf("%u %s\n", now_ms, tx_line.c_str());
      tx_line.clear();
    } else if (c != '\r') {
      tx_line += c;
    }
  }
  return len;
}

int main(int argc, char **argv) {
  memset(eeprom_bytes, 0xFF, sizeof(eeprom_bytes));
  FILE *f = argc > 1 ? fopen(argv[1], "rb") : 0;
  if (f) {
    if (fread(eeprom_bytes, 1, sizeof(eeprom_bytes), f) != sizeof(eeprom_bytes)) return 2;
    fclose(f);
  }
  setup();
  std::string line;
  while (std::getline(std::cin, line)) {
    char cmd[16] = {0};
    unsigned a = 0, b = 0;
    if (sscanf(line.c_str(), "%15s", cmd) != 1) continue;
    if (!strcmp(cmd, "pin") && sscanf(line.c_str(), "%*s %u %u", &a, &b) == 2) {
      pins[a] = (int)b;
    } else if (!strcmp(cmd, "run") && sscanf(line.c_str(), "%*s %u", &a) == 1) {
      for (unsigned i = 0; i < a; i++) { now_ms++; loop(); }
    } else if (!strcmp(cmd, "rx")) {
      rx_buf += line.substr(3) + "\r\n";
    } else if (!strcmp(cmd, "out") && sscanf(line.c_str(), "%*s %u", &a) == 1) {
      printf("%u pin %u %d\n", now_ms, a, pins[a]);
    }
  }
  if (argc > 1) {
    f = fopen(argv[1], "wb");
    if (!f || fwrite(eeprom_bytes, 1, sizeof(eeprom_bytes), f) != sizeof(eeprom_bytes)) return 3;
    fclose(f);
  }
  printf("eeprom_writes %u\n", eeprom_writes);
  return 0;
}
"""


@pytest.fixture(scope="module")
def sketch(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("sketch")
    (work / "Arduino.h").write_text(ARDUINO_H)
    (work / "EEPROM.h").write_text(EEPROM_H)
    (work / "stub_main.cpp").write_text(STUB_MAIN)
    out = work / "sketch"
    result = subprocess.run(
        [gxx(), *CXXFLAGS, "-I", str(work), "-I", str(FIRMWARE), "-x", "c++",
         str(FIRMWARE / "motcua_pad" / "motcua_pad.ino"), str(FIRMWARE / "padproto.cpp"),
         str(work / "stub_main.cpp"), "-o", str(out)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"the sketch does not compile:\n{result.stderr}"
    return out


def run_sketch(binary: Path, eeprom: Path, script: list[str]) -> list[str]:
    result = subprocess.run([str(binary), str(eeprom)], input="\n".join(script) + "\n",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def frames_of(lines: list[str]) -> list[tuple[int, pp.Frame]]:
    out = []
    for line in lines:
        t, _, rest = line.partition(" ")
        if rest.startswith("$"):
            out.append((int(t), parse(rest)))
    return out


def test_sketch_debounces_counts_and_persists(sketch, tmp_path):
    eeprom = tmp_path / "eeprom.bin"                   # absent: a new board (all 0xFF)
    bounce = ["pin 3 0", "run 3", "pin 3 1", "run 2", "pin 3 0", "run 4", "pin 3 1", "run 1",
              "pin 3 0"]                                # button 2 (D3) bouncing, then held
    lines = run_sketch(sketch, eeprom, [
        "run 100",
        "pin 2 0", "run 10", "pin 2 1",                 # a 10 ms glitch on button 1: not a press
        "run 100",
        *bounce, "run 200", "out 10", "out 7",          # Cảm ơn lit, button 2's LED on
        "pin 3 1", "run 3", "pin 3 0", "run 3", "pin 3 1",   # release bouncing
        "run 1400",                                     # retransmissions at +500, +1500
        "rx $ACK,0,1*" + "%02X" % pp.checksum("ACK,0,1"),
        "run 5000",
        *bounce, "run 200", "pin 3 1", "run 100",       # a second press, after the lock-out
    ])
    frames = frames_of(lines)
    assert frames[0][1] == pp.Hello(1, "PAD-0001", pp.FW_VERSION, 1, 4, pp.LOCKOUT_MS)
    ratings = [(t, f) for t, f in frames if isinstance(f, pp.Rating)]
    assert [f.seq for _, f in ratings] == [0, 0, 0, 1]
    assert {f.level for _, f in ratings} == {2} and {f.boot for _, f in ratings} == {1}
    first = ratings[0][0]
    assert [t - first for t, _ in ratings[:3]] == [0, 500, 1500]
    assert [f.age_ms for _, f in ratings[:3]] == [0, 500, 1500]
    # Counted 25 ms after the last bounce (seen by the next loop, 1 ms later).
    assert first == 1000 + 100 + 10 + 100 + 3 + 2 + 4 + 1 + 1 + pp.DEBOUNCE_MS
    # 174 ms after the press: Cảm ơn lit, button 2's LED in the "on" half of its blink.
    assert f"{first + 174} pin 10 1" in lines and f"{first + 174} pin 7 1" in lines
    assert any(line == f"{first} tone 2000 80" for line in lines)
    locks = [f for _, f in frames if isinstance(f, pp.Lock)]
    assert locks[:2] == [pp.Lock(3000, 0), pp.Lock(0, 0)]    # bounces were not presses

    # Power cycle: boot 2, and the sequence goes on past the reserved block.
    lines = run_sketch(sketch, eeprom, ["run 100", *bounce, "run 100"])
    frames = frames_of(lines)
    assert frames[0][1].boot == 2
    ratings = [f for _, f in frames if isinstance(f, pp.Rating)]
    assert [(f.seq, f.boot) for f in ratings] == [(pp.SEQ_BLOCK, 2)]
    lines = run_sketch(sketch, eeprom, ["run 10"])
    assert frames_of(lines)[0][1].boot == 3
    writes = int(lines[-1].split()[1])
    assert writes <= 8                                  # boot counter and reserve, not per press
