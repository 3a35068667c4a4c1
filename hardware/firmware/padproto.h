// Rating pad protocol and state machine: the plain C++ core of the firmware.
//
// No Arduino dependency, no heap, fixed buffers: the sketch (motcua_pad/) and
// the host test (host_test.cpp) both compile this file. It implements
// docs/pad-protocol.md exactly as hardware/padproto.py does; tests/test_firmware.py
// checks the two against each other.
//
// Time is passed in as uint32_t milliseconds (millis()); comparisons are done
// on differences, so the 49-day wrap of millis() is harmless.
#ifndef MOTCUA_PADPROTO_H
#define MOTCUA_PADPROTO_H

#include <stddef.h>
#include <stdint.h>

namespace padproto {

#define PADPROTO_FW_VERSION "1.0.0"

enum {
  PROTO_VERSION = 1,
  MAX_FRAME = 96,            // bytes from '$' through CR LF
  MAX_LINE = MAX_FRAME - 2,  // bytes from '$' through the last checksum digit
  MAX_BODY = MAX_LINE - 4,   // bytes between '$' and '*'
  MAX_ID = 16,               // device id, firmware version, prompt id, ping token
  MAX_FIELDS = 6,
  MAX_BUTTONS = 8,
  THANKS_LED = 0x100,        // LED mask bit of the "Cam on" light; bit n-1 = button n
  QUEUE_SIZE = 8,            // unacknowledged ratings kept
  SEQ_BLOCK = 16,            // sequence numbers reserved per EEPROM write
  RETRY_FIRST_MS = 500,
  RETRY_MAX_MS = 2000,
  HB_INTERVAL_MS = 5000,
  LINK_TIMEOUT_FACTOR = 3,
  LOCKOUT_MS = 3000,
  THANKS_BLINK_MS = 250,
  CONFIRM_BEEP_HZ = 2000,
  CONFIRM_BEEP_MS = 80,
  GARBAGE_MAX = 65535
};

enum Type {
  T_NONE = 0,
  // pad -> host
  T_HELLO, T_RATING, T_HB, T_LOCK, T_PONG,
  // host -> pad
  T_WHO, T_PING, T_PROMPT, T_CANCEL, T_LED, T_BEEP, T_ACK,
  T_COUNT
};

enum Error {
  E_NONE = 0,
  E_TOO_LONG, E_NO_START, E_BAD_CHAR, E_NO_CHECKSUM, E_BAD_HEX, E_BAD_CHECKSUM,
  E_UNKNOWN_TYPE, E_BAD_FIELD_COUNT, E_BAD_FIELD,
  E_GARBAGE, E_TRUNCATED,  // decoder only
  E_COUNT
};

// Field positions, by type (f[i] below).
enum {
  HELLO_PROTO = 0, HELLO_DEVICE, HELLO_FW, HELLO_BOOT, HELLO_BUTTONS, HELLO_LOCKOUT,
  RATING_SEQ = 0, RATING_BOOT, RATING_PROMPT, RATING_LEVEL, RATING_AGE,
  HB_BOOT = 0, HB_PROMPT, HB_LOCKED, HB_UNACKED, HB_RX_ERRORS,
  LOCK_REMAINING = 0, LOCK_IGNORED,
  PING_TOKEN = 0,
  PROMPT_ID = 0, PROMPT_LEVELS, PROMPT_TIMEOUT_S,
  CANCEL_ID = 0,
  LED_MASK = 0, LED_MS,
  BEEP_HZ = 0, BEEP_MS,
  ACK_SEQ = 0, ACK_BOOT
};

// One field: numeric kinds use n, id kinds use s (NUL-terminated).
struct Field {
  uint32_t n;
  char s[MAX_ID + 1];
};

struct Frame {
  uint8_t type;   // Type
  uint8_t count;  // number of fields
  Field f[MAX_FIELDS];
};

const char *type_name(uint8_t type);   // "HELLO", ... ("" for T_NONE)
const char *type_kinds(uint8_t type);  // one kind letter per field (see padproto.cpp)
const char *error_name(uint8_t error); // "too_long", ... ("" for E_NONE)
bool sent_by_host(uint8_t type);

uint8_t checksum(const char *body, size_t len);

// Parses one line ('$' through the checksum; one trailing CR LF, LF or CR is
// ignored). Returns E_NONE and fills *out, or the first error found.
uint8_t parse(const char *line, size_t len, Frame *out);

// Writes "$BODY*HH\r\n" and a NUL into buf. Returns the length without the
// NUL, or 0 when a field is out of range or buf is too small (cap >= MAX_FRAME + 1
// is always enough).
size_t encode(const Frame &frame, char *buf, size_t cap);

// Building frames field by field.
void frame_init(Frame *frame, uint8_t type);
void frame_num(Frame *frame, uint8_t index, uint32_t value);
void frame_str(Frame *frame, uint8_t index, const char *value);

// Streaming decoder: feed bytes one at a time. Holds at most MAX_LINE bytes.
class Decoder {
 public:
  enum Result { NOTHING = 0, FRAME = 1, ERROR = 2 };
  Decoder();
  void reset();
  // Returns FRAME (frame filled), ERROR (*error and *size filled) or NOTHING.
  uint8_t feed(uint8_t byte, Frame *frame, uint8_t *error, uint16_t *size);
  uint8_t pending() const { return len_; }

 private:
  char buf_[MAX_LINE];
  uint8_t len_;
  bool in_frame_;
  bool skipping_;
  uint16_t garbage_;
};

// The pad's state machine; the same behaviour as hardware/padproto.py PadState.
class Pad {
 public:
  typedef void (*SendFn)(const char *line, size_t len, void *ctx);
  typedef void (*PersistFn)(uint32_t value, void *ctx);

  Pad();  // zeroed; nothing happens before begin()

  struct Config {
    const char *device;   // id: 1-16 of A-Z a-z 0-9 . _ -
    const char *fw;       // same syntax
    uint8_t buttons;      // 2..MAX_BUTTONS
    uint16_t lockout_ms;  // 0..60000
    uint16_t hb_ms;       // 1..60000
  };

  // Power-on: reserves sequence numbers (calls persist) and sends HELLO.
  // Returns false (and does nothing) when the config is out of range.
  bool begin(const Config &config, uint16_t boot, uint32_t stored_seq, SendFn send,
             PersistFn persist, void *ctx, uint32_t now);
  void on_frame(const Frame &frame, uint32_t now);  // a frame from the host
  void on_error();                                  // a frame discarded by the decoder
  void on_press(uint8_t level, uint32_t now);       // a debounced press, 1 = leftmost
  void tick(uint32_t now);                          // call every loop
  uint16_t leds(uint32_t now) const;                // bit n-1 = button n, THANKS_LED
  bool take_beep(uint16_t *hz, uint16_t *ms);
  bool host_online(uint32_t now) const;

  const char *prompt() const { return prompt_active_ ? prompt_ : 0; }
  bool locked() const { return locked_; }
  uint8_t unacked() const { return queue_len_; }
  uint32_t next_seq() const { return next_seq_; }
  uint16_t rx_errors() const { return rx_errors_; }
  uint16_t dropped() const { return dropped_; }

 private:
  struct Pending {
    uint32_t seq;
    uint32_t pressed_at;
    uint8_t level;
    char prompt[MAX_ID + 1];
  };

  void expire(uint32_t now);
  void reserve(uint32_t value);
  void send(const Frame &frame);
  void send_hello();
  void send_hb(uint32_t now);
  void send_lock(uint32_t remaining, uint32_t ignored);
  void send_rating(const Pending &pending, uint32_t now);
  void send_head(uint32_t now);
  void ack(uint32_t seq, uint32_t boot, uint32_t now);

  Config config_;
  uint16_t boot_;
  SendFn send_fn_;
  PersistFn persist_fn_;
  void *ctx_;
  bool started_;
  uint32_t next_seq_;
  uint32_t persisted_seq_;
  uint16_t rx_errors_;
  uint16_t dropped_;
  uint16_t ignored_;
  bool prompt_active_;
  char prompt_[MAX_ID + 1];
  uint8_t prompt_levels_;
  uint32_t prompt_deadline_;
  bool last_rated_set_;
  char last_rated_[MAX_ID + 1];
  bool locked_;
  uint32_t lock_until_;
  uint32_t press_at_;
  uint8_t press_level_;
  Pending queue_[QUEUE_SIZE];
  uint8_t queue_len_;
  uint8_t transmissions_;
  uint32_t next_tx_;
  uint32_t next_hb_;
  bool rx_seen_;
  uint32_t last_rx_;
  bool override_active_;
  uint16_t override_mask_;
  uint32_t override_until_;
  bool beep_pending_;
  uint16_t beep_hz_;
  uint16_t beep_ms_;
};

}  // namespace padproto

#endif  // MOTCUA_PADPROTO_H
