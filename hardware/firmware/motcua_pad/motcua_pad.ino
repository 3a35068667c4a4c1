// motcua rating pad: Arduino Nano / Uno (ATmega328P, 16 MHz).
//
// The citizen presses one of the buttons after being served; the pad sends the
// rating to the counter's host over the USB serial port (57600 8N1) in the
// protocol of docs/pad-protocol.md. This sketch only does the hardware: pins,
// debouncing, LEDs, buzzer, EEPROM. Framing, parsing and the pad's behaviour
// are in the plain C++ core ../padproto.h / ../padproto.cpp, which the host
// test checks against hardware/padproto.py.
//
// Build (see ../README.md):
//   arduino-cli compile --fqbn arduino:avr:nano --library hardware/firmware
//       hardware/firmware/motcua_pad
//
// Wiring (change the tables below to match your board):
//   buttons  D2 D3 D4 D5 to GND (internal pull-ups), button 1 = leftmost = best
//   LEDs     D6 D7 D8 D9 (one per button, through 330 ohm to GND)
//   "Cam on" thank-you light on D10, passive buzzer on D11, D13 lit while the
//   host is heard (a frame within the last 3 heartbeat periods).
#include <Arduino.h>
#include <EEPROM.h>

#include "padproto.h"

// Each pad needs its own id: set it here or with
// --build-property "compiler.cpp.extra_flags=-DPAD_DEVICE_ID=\"PAD-0002\"".
#ifndef PAD_DEVICE_ID
#define PAD_DEVICE_ID "PAD-0001"
#endif

static const uint32_t BAUD = 57600;
static const uint8_t BUTTON_PINS[] = {2, 3, 4, 5};
static const uint8_t LED_PINS[] = {6, 7, 8, 9};
static const uint8_t BUTTONS = sizeof(BUTTON_PINS);
static const uint8_t THANKS_PIN = 10;
static const uint8_t BUZZER_PIN = 11;
static const uint8_t STATUS_PIN = 13;
static const uint16_t DEBOUNCE_MS = 25;

// EEPROM layout: magic "MP", layout version, boot counter, sequence reserve.
static const int EE_MAGIC = 0;      // 2 bytes
static const int EE_LAYOUT = 2;     // 1 byte
static const int EE_BOOT = 4;       // uint16_t
static const int EE_SEQ = 8;        // uint32_t: first sequence number not yet reserved
static const uint8_t LAYOUT = 1;

struct Button {
  bool raw;          // last reading, true = pressed
  bool stable;       // debounced state
  uint32_t changed;  // millis() of the last change of raw
};

static Button buttons[BUTTONS];
static padproto::Pad pad;
static padproto::Decoder decoder;

static void send_line(const char *line, size_t len, void *) {
  Serial.write(reinterpret_cast<const uint8_t *>(line), len);
}

static void persist_seq(uint32_t value, void *) {
  EEPROM.put(EE_SEQ, value);  // put() only writes bytes that changed
}

static void load_eeprom(uint16_t *boot, uint32_t *seq) {
  if (EEPROM.read(EE_MAGIC) != 'M' || EEPROM.read(EE_MAGIC + 1) != 'P' ||
      EEPROM.read(EE_LAYOUT) != LAYOUT) {
    uint16_t zero16 = 0;
    uint32_t zero32 = 0;
    EEPROM.put(EE_BOOT, zero16);
    EEPROM.put(EE_SEQ, zero32);
    EEPROM.update(EE_LAYOUT, LAYOUT);
    EEPROM.update(EE_MAGIC, 'M');
    EEPROM.update(EE_MAGIC + 1, 'P');
  }
  uint16_t b;
  EEPROM.get(EE_BOOT, b);
  b = (uint16_t)(b + 1);
  if (b == 0) b = 1;  // boot id 0 is never used
  EEPROM.put(EE_BOOT, b);
  *boot = b;
  EEPROM.get(EE_SEQ, *seq);
}

static void read_buttons(uint32_t now) {
  for (uint8_t i = 0; i < BUTTONS; i++) {
    bool raw = digitalRead(BUTTON_PINS[i]) == LOW;
    Button &b = buttons[i];
    if (raw != b.raw) {
      b.raw = raw;
      b.changed = now;
    } else if (raw != b.stable && now - b.changed >= DEBOUNCE_MS) {
      b.stable = raw;
      if (raw) pad.on_press(i + 1, now);
    }
  }
}

static void read_serial(uint32_t now) {
  while (Serial.available() > 0) {
    padproto::Frame frame;
    uint8_t error;
    uint16_t size;
    uint8_t result = decoder.feed((uint8_t)Serial.read(), &frame, &error, &size);
    if (result == padproto::Decoder::FRAME) {
      pad.on_frame(frame, now);
    } else if (result == padproto::Decoder::ERROR) {
      pad.on_error();  // counted in HB rx_errors
    }
  }
}

static void show(uint32_t now) {
  uint16_t mask = pad.leds(now);
  for (uint8_t i = 0; i < BUTTONS; i++) digitalWrite(LED_PINS[i], (mask >> i) & 1 ? HIGH : LOW);
  digitalWrite(THANKS_PIN, mask & padproto::THANKS_LED ? HIGH : LOW);
  digitalWrite(STATUS_PIN, pad.host_online(now) ? HIGH : LOW);
  uint16_t hz, ms;
  if (pad.take_beep(&hz, &ms)) tone(BUZZER_PIN, hz, ms);
}

void setup() {
  for (uint8_t i = 0; i < BUTTONS; i++) {
    pinMode(BUTTON_PINS[i], INPUT_PULLUP);
    pinMode(LED_PINS[i], OUTPUT);
    buttons[i].raw = buttons[i].stable = digitalRead(BUTTON_PINS[i]) == LOW;
    buttons[i].changed = 0;
  }
  pinMode(THANKS_PIN, OUTPUT);
  pinMode(BUZZER_PIN, OUTPUT);
  pinMode(STATUS_PIN, OUTPUT);
  Serial.begin(BAUD);

  uint16_t boot;
  uint32_t seq;
  load_eeprom(&boot, &seq);
  padproto::Pad::Config config = {PAD_DEVICE_ID, PADPROTO_FW_VERSION, BUTTONS,
                                  padproto::LOCKOUT_MS, padproto::HB_INTERVAL_MS};
  if (!pad.begin(config, boot, seq, send_line, persist_seq, 0, millis())) {
    // A bad PAD_DEVICE_ID or button table: blink the status LED forever.
    for (;;) {
      digitalWrite(STATUS_PIN, !digitalRead(STATUS_PIN));
      delay(100);
    }
  }
}

void loop() {
  uint32_t now = millis();
  read_serial(now);
  read_buttons(now);
  pad.tick(now);
  show(now);
}
