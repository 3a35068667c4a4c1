// Host test driver for the firmware core (padproto.cpp), built with g++ by
// tests/test_firmware.py and driven through stdin, one command per line. The
// Python test runs the same commands against hardware/padproto.py and compares
// the transcripts. Every command's output ends with a line "--".
//
//   parse <hex>           one line: "OK <TYPE> <fields...> | <re-encoded frame>" or "ERR <reason>"
//   stream <hex>          bytes into a persistent decoder: "FRAME <TYPE> <fields...>" or
//                         "ERR <reason> <size>" per event
//   reset                 a new stream decoder
//   start <device> <fw> <boot> <stored_seq> <buttons> <lockout_ms> <hb_ms> <now>
//   rx <now> <hex>        bytes from the host into the pad (its own decoder)
//   press <level> <now>
//   tick <now>
//   leds <now>            "leds <mask>"
//   beep                  "beep <hz> <ms>" or "beep none"
//   state <now>           "state prompt=.. locked=.. unacked=.. next_seq=.. rx_errors=.. dropped=.. online=.."
// Frames the pad sends are printed as "> <frame without CR LF>", then EEPROM
// writes as "persist <value>".
//
// Build: g++ -std=c++11 -Wall -Wextra -Werror padproto.cpp host_test.cpp -o host_test
//
// Guarded so that an Arduino build that takes this folder as a library (the
// sketch's documented build) skips it.
#ifndef ARDUINO
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iostream>
#include <sstream>
#include <string>

#include "padproto.h"

using namespace padproto;

static bool from_hex(const std::string &hex, std::string *out) {
  if (hex.size() % 2) return false;
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    char pair[3] = {hex[i], hex[i + 1], 0};
    char *end = 0;
    long value = strtol(pair, &end, 16);
    if (*end) return false;
    out->push_back((char)value);
  }
  return true;
}

static void print_fields(const Frame &frame) {
  const char *kinds = type_kinds(frame.type);
  printf("%s", type_name(frame.type));
  for (size_t k = 0; kinds[k]; k++) {
    if (kinds[k] == 'd' || kinds[k] == 'p') {
      printf(" %s", frame.f[k].s);
    } else {
      printf(" %lu", (unsigned long)frame.f[k].n);
    }
  }
}

static void on_send(const char *line, size_t len, void *) {
  if (len < 2 || line[len - 2] != '\r' || line[len - 1] != '\n' || strlen(line) != len) {
    printf("BADEND\n");
    return;
  }
  printf("> %.*s\n", (int)(len - 2), line);
}

// EEPROM writes are printed after the command's frames (the Python side
// returns frames and calls persist() separately, so only the order within
// each kind is compared).
static unsigned long persisted[8];
static size_t persisted_count;

static void on_persist(uint32_t value, void *) {
  if (persisted_count < sizeof(persisted) / sizeof(persisted[0])) persisted[persisted_count++] = value;
}

static char device[MAX_ID + 1];
static char fw[MAX_ID + 1];
static Pad pad;
static Decoder pad_decoder;
static Decoder stream_decoder;

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string command;
    in >> command;
    if (command.empty()) continue;
    if (command == "parse") {
      std::string hex, bytes;
      in >> hex;
      if (!from_hex(hex, &bytes)) {
        printf("BADHEX\n");
      } else {
        Frame frame;
        uint8_t error = parse(bytes.data(), bytes.size(), &frame);
        if (error) {
          printf("ERR %s\n", error_name(error));
        } else {
          char buf[MAX_FRAME + 1];
          size_t n = encode(frame, buf, sizeof(buf));
          printf("OK ");
          print_fields(frame);
          printf(" | %.*s\n", n >= 2 ? (int)(n - 2) : 0, buf);
        }
      }
    } else if (command == "stream") {
      std::string hex, bytes;
      in >> hex;
      if (!from_hex(hex, &bytes)) {
        printf("BADHEX\n");
      } else {
        for (size_t i = 0; i < bytes.size(); i++) {
          Frame frame;
          uint8_t error = 0;
          uint16_t size = 0;
          uint8_t result = stream_decoder.feed((uint8_t)bytes[i], &frame, &error, &size);
          if (result == Decoder::FRAME) {
            printf("FRAME ");
            print_fields(frame);
            printf("\n");
          } else if (result == Decoder::ERROR) {
            printf("ERR %s %u\n", error_name(error), (unsigned)size);
          }
        }
      }
    } else if (command == "reset") {
      stream_decoder.reset();
    } else if (command == "start") {
      std::string d, f;
      unsigned long boot, stored, buttons, lockout, hb, now;
      in >> d >> f >> boot >> stored >> buttons >> lockout >> hb >> now;
      snprintf(device, sizeof(device), "%s", d.c_str());
      snprintf(fw, sizeof(fw), "%s", f.c_str());
      Pad::Config config = {device, fw, (uint8_t)buttons, (uint16_t)lockout, (uint16_t)hb};
      pad_decoder.reset();
      if (!pad.begin(config, (uint16_t)boot, (uint32_t)stored, on_send, on_persist, 0,
                     (uint32_t)now)) {
        printf("BADCONFIG\n");
      }
    } else if (command == "rx") {
      unsigned long now;
      std::string hex, bytes;
      in >> now >> hex;
      if (!from_hex(hex, &bytes)) {
        printf("BADHEX\n");
      } else {
        for (size_t i = 0; i < bytes.size(); i++) {
          Frame frame;
          uint8_t error = 0;
          uint16_t size = 0;
          uint8_t result = pad_decoder.feed((uint8_t)bytes[i], &frame, &error, &size);
          if (result == Decoder::FRAME) {
            pad.on_frame(frame, (uint32_t)now);
          } else if (result == Decoder::ERROR) {
            pad.on_error();
          }
        }
      }
    } else if (command == "press") {
      unsigned long level, now;
      in >> level >> now;
      pad.on_press((uint8_t)level, (uint32_t)now);
    } else if (command == "tick") {
      unsigned long now;
      in >> now;
      pad.tick((uint32_t)now);
    } else if (command == "leds") {
      unsigned long now;
      in >> now;
      printf("leds %u\n", (unsigned)pad.leds((uint32_t)now));
    } else if (command == "beep") {
      uint16_t hz, ms;
      if (pad.take_beep(&hz, &ms)) {
        printf("beep %u %u\n", (unsigned)hz, (unsigned)ms);
      } else {
        printf("beep none\n");
      }
    } else if (command == "state") {
      unsigned long now;
      in >> now;
      printf("state prompt=%s locked=%d unacked=%u next_seq=%lu rx_errors=%u dropped=%u online=%d\n",
             pad.prompt() ? pad.prompt() : "-", pad.locked() ? 1 : 0, (unsigned)pad.unacked(),
             (unsigned long)pad.next_seq(), (unsigned)pad.rx_errors(), (unsigned)pad.dropped(),
             pad.host_online((uint32_t)now) ? 1 : 0);
    } else {
      printf("UNKNOWN %s\n", command.c_str());
    }
    for (size_t i = 0; i < persisted_count; i++) printf("persist %lu\n", persisted[i]);
    persisted_count = 0;
    printf("--\n");
    fflush(stdout);
  }
  return 0;
}

#endif  // ARDUINO
