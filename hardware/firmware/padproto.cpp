// Rating pad protocol and state machine (see padproto.h, docs/pad-protocol.md).
#include "padproto.h"

#include <string.h>

namespace padproto {

// Field kinds, one letter each (hardware/padproto.py NUMBER_RANGES, ID_KINDS):
//   v 1..99 protocol   w 0..65535    u 0..4294967295   b 2..8 buttons/levels
//   l 1..8 level       m 0..60000 ms f 0..1 flag       q 0..255 small count
//   t 1..3600 seconds  x 0..511 LED mask  z 50..10000 Hz  e 1..5000 beep ms
//   d id: 1-16 of A-Z a-z 0-9 . _ - (not "-")     p id or "-"
static const char *const TYPE_NAMES[T_COUNT] = {
    "", "HELLO", "RATING", "HB", "LOCK", "PONG",
    "WHO", "PING", "PROMPT", "CANCEL", "LED", "BEEP", "ACK"};
static const char *const TYPE_KINDS[T_COUNT] = {
    "", "vddwbm", "uwplu", "wpfqw", "mw", "d",
    "", "d", "dbt", "d", "xm", "ze", "uw"};
static const char *const ERROR_NAMES[E_COUNT] = {
    "", "too_long", "no_start", "bad_char", "no_checksum", "bad_hex", "bad_checksum",
    "unknown_type", "bad_field_count", "bad_field", "garbage", "truncated"};

static const char HEX_DIGITS[] = "0123456789ABCDEF";

const char *type_name(uint8_t type) { return type < T_COUNT ? TYPE_NAMES[type] : ""; }
const char *type_kinds(uint8_t type) { return type < T_COUNT ? TYPE_KINDS[type] : ""; }
const char *error_name(uint8_t error) { return error < E_COUNT ? ERROR_NAMES[error] : ""; }
bool sent_by_host(uint8_t type) { return type >= T_WHO && type < T_COUNT; }

static bool number_range(char kind, uint32_t *low, uint32_t *high) {
  switch (kind) {
    case 'v': *low = 1; *high = 99; return true;
    case 'w': *low = 0; *high = 65535UL; return true;
    case 'u': *low = 0; *high = 4294967295UL; return true;
    case 'b': *low = 2; *high = MAX_BUTTONS; return true;
    case 'l': *low = 1; *high = MAX_BUTTONS; return true;
    case 'm': *low = 0; *high = 60000UL; return true;
    case 'f': *low = 0; *high = 1; return true;
    case 'q': *low = 0; *high = 255; return true;
    case 't': *low = 1; *high = 3600; return true;
    case 'x': *low = 0; *high = 511; return true;
    case 'z': *low = 50; *high = 10000; return true;
    case 'e': *low = 1; *high = 5000; return true;
    default: return false;
  }
}

static bool id_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-';
}

static bool valid_id(char kind, const char *s, size_t len) {
  if (len == 0 || len > MAX_ID) return false;
  if (len == 1 && s[0] == '-') return kind == 'p';
  for (size_t i = 0; i < len; i++) {
    if (!id_char(s[i])) return false;
  }
  return true;
}

static bool parse_number(const char *s, size_t len, uint32_t *out) {
  if (len == 0 || len > 10) return false;
  if (len > 1 && s[0] == '0') return false;
  uint32_t value = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    uint32_t digit = (uint32_t)(s[i] - '0');
    if (value > (4294967295UL - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *out = value;
  return true;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

uint8_t checksum(const char *body, size_t len) {
  uint8_t value = 0;
  for (size_t i = 0; i < len; i++) value ^= (uint8_t)body[i];
  return value;
}

uint8_t parse(const char *line, size_t len, Frame *out) {
  if (len >= 2 && line[len - 2] == '\r' && line[len - 1] == '\n') {
    len -= 2;
  } else if (len >= 1 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
    len -= 1;
  }
  if (len > MAX_LINE) return E_TOO_LONG;
  if (len == 0 || line[0] != '$') return E_NO_START;
  for (size_t i = 0; i < len; i++) {
    uint8_t c = (uint8_t)line[i];
    if (c < 0x20 || c > 0x7E) return E_BAD_CHAR;
  }
  if (len < 4 || line[len - 3] != '*') return E_NO_CHECKSUM;
  int high = hex_value(line[len - 2]);
  int low = hex_value(line[len - 1]);
  if (high < 0 || low < 0) return E_BAD_HEX;
  const char *body = line + 1;
  size_t body_len = len - 4;
  for (size_t i = 0; i < body_len; i++) {
    if (body[i] == '$' || body[i] == '*') return E_BAD_CHAR;
  }
  if (checksum(body, body_len) != (uint8_t)(high * 16 + low)) return E_BAD_CHECKSUM;

  size_t type_len = 0;
  while (type_len < body_len && body[type_len] != ',') type_len++;
  uint8_t type = T_NONE;
  for (uint8_t t = 1; t < T_COUNT; t++) {
    if (strlen(TYPE_NAMES[t]) == type_len && memcmp(TYPE_NAMES[t], body, type_len) == 0) {
      type = t;
      break;
    }
  }
  if (type == T_NONE) return E_UNKNOWN_TYPE;
  const char *kinds = TYPE_KINDS[type];
  size_t wanted = strlen(kinds);
  size_t commas = 0;
  for (size_t i = type_len; i < body_len; i++) {
    if (body[i] == ',') commas++;
  }
  if (commas != wanted) return E_BAD_FIELD_COUNT;

  frame_init(out, type);
  size_t pos = type_len;
  for (size_t k = 0; k < wanted; k++) {
    size_t start = pos + 1;  // skip the comma
    size_t end = start;
    while (end < body_len && body[end] != ',') end++;
    const char *s = body + start;
    size_t n = end - start;
    uint32_t low_limit, high_limit;
    if (number_range(kinds[k], &low_limit, &high_limit)) {
      uint32_t value;
      if (!parse_number(s, n, &value) || value < low_limit || value > high_limit) return E_BAD_FIELD;
      out->f[k].n = value;
    } else {
      if (!valid_id(kinds[k], s, n)) return E_BAD_FIELD;
      memcpy(out->f[k].s, s, n);
      out->f[k].s[n] = '\0';
    }
    pos = end;
  }
  return E_NONE;
}

static size_t put_number(char *buf, size_t pos, size_t cap, uint32_t value) {
  char digits[10];
  size_t n = 0;
  do {
    digits[n++] = (char)('0' + value % 10);
    value /= 10;
  } while (value);
  if (pos + n >= cap) return 0;
  while (n) buf[pos++] = digits[--n];
  return pos;
}

size_t encode(const Frame &frame, char *buf, size_t cap) {
  if (frame.type == T_NONE || frame.type >= T_COUNT || cap < 8) return 0;
  const char *kinds = TYPE_KINDS[frame.type];
  size_t wanted = strlen(kinds);
  if (frame.count != wanted) return 0;
  size_t pos = 0;
  buf[pos++] = '$';
  const char *name = TYPE_NAMES[frame.type];
  size_t name_len = strlen(name);
  if (pos + name_len >= cap) return 0;
  memcpy(buf + pos, name, name_len);
  pos += name_len;
  for (size_t k = 0; k < wanted; k++) {
    if (pos + 1 >= cap) return 0;
    buf[pos++] = ',';
    uint32_t low, high;
    if (number_range(kinds[k], &low, &high)) {
      if (frame.f[k].n < low || frame.f[k].n > high) return 0;
      pos = put_number(buf, pos, cap, frame.f[k].n);
      if (!pos) return 0;
    } else {
      size_t n = strlen(frame.f[k].s);
      if (!valid_id(kinds[k], frame.f[k].s, n) || pos + n >= cap) return 0;
      memcpy(buf + pos, frame.f[k].s, n);
      pos += n;
    }
  }
  if (pos + 6 > cap || pos - 1 > MAX_BODY) return 0;
  uint8_t sum = checksum(buf + 1, pos - 1);
  buf[pos++] = '*';
  buf[pos++] = HEX_DIGITS[sum >> 4];
  buf[pos++] = HEX_DIGITS[sum & 0x0F];
  buf[pos++] = '\r';
  buf[pos++] = '\n';
  buf[pos] = '\0';
  return pos;
}

void frame_init(Frame *frame, uint8_t type) {
  memset(frame, 0, sizeof(*frame));
  frame->type = type;
  frame->count = (uint8_t)strlen(type_kinds(type));
}

void frame_num(Frame *frame, uint8_t index, uint32_t value) {
  if (index < MAX_FIELDS) frame->f[index].n = value;
}

void frame_str(Frame *frame, uint8_t index, const char *value) {
  if (index >= MAX_FIELDS) return;
  size_t n = strlen(value);
  if (n > MAX_ID) n = MAX_ID;
  memcpy(frame->f[index].s, value, n);
  frame->f[index].s[n] = '\0';
}

// --- Decoder ----------------------------------------------------------------

Decoder::Decoder() { reset(); }

void Decoder::reset() {
  len_ = 0;
  in_frame_ = false;
  skipping_ = false;
  garbage_ = 0;
}

uint8_t Decoder::feed(uint8_t byte, Frame *frame, uint8_t *error, uint16_t *size) {
  if (byte == '$') {
    uint8_t result = NOTHING;
    if (in_frame_) {
      *error = E_TRUNCATED;
      *size = len_;
      result = ERROR;
    } else if (garbage_) {
      *error = E_GARBAGE;
      *size = garbage_;
      garbage_ = 0;
      result = ERROR;
    }
    skipping_ = false;
    in_frame_ = true;
    buf_[0] = '$';
    len_ = 1;
    return result;
  }
  if (byte == '\r' || byte == '\n') {
    uint8_t result = NOTHING;
    if (in_frame_) {
      uint8_t e = parse(buf_, len_, frame);
      if (e == E_NONE) {
        result = FRAME;
      } else {
        *error = e;
        *size = len_;
        result = ERROR;
      }
      in_frame_ = false;
      len_ = 0;
    } else if (garbage_) {
      *error = E_GARBAGE;
      *size = garbage_;
      garbage_ = 0;
      result = ERROR;
    }
    skipping_ = false;
    return result;
  }
  if (in_frame_) {
    if (len_ < MAX_LINE) {
      buf_[len_++] = (char)byte;
      return NOTHING;
    }
    *error = E_TOO_LONG;
    *size = MAX_LINE + 1;
    in_frame_ = false;
    len_ = 0;
    skipping_ = true;
    return ERROR;
  }
  if (!skipping_ && garbage_ < GARBAGE_MAX) garbage_++;
  return NOTHING;
}

// --- Pad --------------------------------------------------------------------

static bool reached(uint32_t now, uint32_t when) { return (int32_t)(now - when) >= 0; }

static uint32_t retry_interval(uint8_t transmissions) {
  uint32_t interval = RETRY_FIRST_MS;
  for (uint8_t i = 1; i < transmissions && interval < RETRY_MAX_MS; i++) interval *= 2;
  return interval < (uint32_t)RETRY_MAX_MS ? interval : (uint32_t)RETRY_MAX_MS;
}

static void copy_id(char *dst, const char *src) {
  size_t n = strlen(src);
  if (n > MAX_ID) n = MAX_ID;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

Pad::Pad() { memset(static_cast<void *>(this), 0, sizeof(*this)); }

bool Pad::begin(const Config &config, uint16_t boot, uint32_t stored_seq, SendFn send,
                PersistFn persist, void *ctx, uint32_t now) {
  if (!valid_id('d', config.device, strlen(config.device)) ||
      !valid_id('d', config.fw, strlen(config.fw)) || config.buttons < 2 ||
      config.buttons > MAX_BUTTONS || config.lockout_ms > 60000U || config.hb_ms < 1 ||
      config.hb_ms > 60000U) {
    return false;
  }
  memset(static_cast<void *>(this), 0, sizeof(*this));
  config_ = config;
  boot_ = boot;
  send_fn_ = send;
  persist_fn_ = persist;
  ctx_ = ctx;
  started_ = true;
  next_seq_ = stored_seq;
  persisted_seq_ = stored_seq;
  uint32_t reserved = stored_seq + SEQ_BLOCK;
  reserve(reserved < stored_seq ? 4294967295UL : reserved);
  next_hb_ = now + config_.hb_ms;
  send_hello();
  return true;
}

void Pad::reserve(uint32_t value) {
  persisted_seq_ = value;
  if (persist_fn_) persist_fn_(value, ctx_);
}

void Pad::send(const Frame &frame) {
  char buf[MAX_FRAME + 1];
  size_t n = encode(frame, buf, sizeof(buf));
  if (n && send_fn_) send_fn_(buf, n, ctx_);
}

void Pad::send_hello() {
  Frame f;
  frame_init(&f, T_HELLO);
  frame_num(&f, HELLO_PROTO, PROTO_VERSION);
  frame_str(&f, HELLO_DEVICE, config_.device);
  frame_str(&f, HELLO_FW, config_.fw);
  frame_num(&f, HELLO_BOOT, boot_);
  frame_num(&f, HELLO_BUTTONS, config_.buttons);
  frame_num(&f, HELLO_LOCKOUT, config_.lockout_ms);
  send(f);
}

void Pad::send_hb(uint32_t now) {
  next_hb_ = now + config_.hb_ms;
  Frame f;
  frame_init(&f, T_HB);
  frame_num(&f, HB_BOOT, boot_);
  frame_str(&f, HB_PROMPT, prompt_active_ ? prompt_ : "-");
  frame_num(&f, HB_LOCKED, locked_ ? 1 : 0);
  frame_num(&f, HB_UNACKED, queue_len_);
  frame_num(&f, HB_RX_ERRORS, rx_errors_);
  send(f);
}

void Pad::send_lock(uint32_t remaining, uint32_t ignored) {
  Frame f;
  frame_init(&f, T_LOCK);
  frame_num(&f, LOCK_REMAINING, remaining);
  frame_num(&f, LOCK_IGNORED, ignored);
  send(f);
}

void Pad::send_rating(const Pending &pending, uint32_t now) {
  Frame f;
  frame_init(&f, T_RATING);
  frame_num(&f, RATING_SEQ, pending.seq);
  frame_num(&f, RATING_BOOT, boot_);
  frame_str(&f, RATING_PROMPT, pending.prompt);
  frame_num(&f, RATING_LEVEL, pending.level);
  frame_num(&f, RATING_AGE, now - pending.pressed_at);
  send(f);
}

void Pad::send_head(uint32_t now) {
  transmissions_ = 1;
  next_tx_ = now + retry_interval(1);
  send_rating(queue_[0], now);
}

void Pad::expire(uint32_t now) {
  if (locked_ && reached(now, lock_until_)) {
    locked_ = false;
    send_lock(0, ignored_);
  }
  if (prompt_active_ && reached(now, prompt_deadline_)) {
    prompt_active_ = false;
    send_hb(now);
  }
}

void Pad::on_frame(const Frame &frame, uint32_t now) {
  if (!started_) return;
  expire(now);
  if (!sent_by_host(frame.type)) return;
  rx_seen_ = true;
  last_rx_ = now;
  switch (frame.type) {
    case T_WHO:
      send_hello();
      break;
    case T_PING: {
      Frame f;
      frame_init(&f, T_PONG);
      frame_str(&f, 0, frame.f[PING_TOKEN].s);
      send(f);
      break;
    }
    case T_PROMPT: {
      const char *id = frame.f[PROMPT_ID].s;
      bool same_as_rated = last_rated_set_ && strcmp(id, last_rated_) == 0;
      bool same_as_active = prompt_active_ && strcmp(id, prompt_) == 0;
      if (frame.f[PROMPT_LEVELS].n <= config_.buttons && !same_as_rated && !same_as_active) {
        prompt_active_ = true;
        copy_id(prompt_, id);
        prompt_levels_ = (uint8_t)frame.f[PROMPT_LEVELS].n;
        prompt_deadline_ = now + frame.f[PROMPT_TIMEOUT_S].n * 1000UL;
        override_active_ = false;
      }
      send_hb(now);
      break;
    }
    case T_CANCEL:
      if (prompt_active_ && strcmp(frame.f[CANCEL_ID].s, prompt_) == 0) prompt_active_ = false;
      send_hb(now);
      break;
    case T_LED:
      if (frame.f[LED_MS].n) {
        override_active_ = true;
        override_mask_ = (uint16_t)frame.f[LED_MASK].n;
        override_until_ = now + frame.f[LED_MS].n;
      } else {
        override_active_ = false;
      }
      break;
    case T_BEEP:
      beep_pending_ = true;
      beep_hz_ = (uint16_t)frame.f[BEEP_HZ].n;
      beep_ms_ = (uint16_t)frame.f[BEEP_MS].n;
      break;
    case T_ACK:
      ack(frame.f[ACK_SEQ].n, frame.f[ACK_BOOT].n, now);
      break;
    default:
      break;
  }
}

void Pad::on_error() {
  if (rx_errors_ < 65535U) rx_errors_++;
}

void Pad::ack(uint32_t seq, uint32_t boot, uint32_t now) {
  if (boot != boot_) return;
  for (uint8_t i = 0; i < queue_len_; i++) {
    if (queue_[i].seq != seq) continue;
    for (uint8_t j = i; j + 1 < queue_len_; j++) queue_[j] = queue_[j + 1];
    queue_len_--;
    if (i == 0 && queue_len_) send_head(now);
    return;
  }
}

void Pad::on_press(uint8_t level, uint32_t now) {
  if (!started_) return;
  expire(now);
  if (level < 1 || level > config_.buttons) return;
  if (locked_) {
    if (ignored_ < 65535U) ignored_++;
    return;
  }
  if (prompt_active_ && level > prompt_levels_) return;  // an unlit button
  Pending pending;
  memset(&pending, 0, sizeof(pending));
  if (prompt_active_) {
    copy_id(pending.prompt, prompt_);
    copy_id(last_rated_, prompt_);
    last_rated_set_ = true;
    prompt_active_ = false;
  } else {
    copy_id(pending.prompt, "-");
  }
  if (next_seq_ >= persisted_seq_) {
    uint32_t reserved = next_seq_ + SEQ_BLOCK;
    reserve(reserved < next_seq_ ? 4294967295UL : reserved);
  }
  pending.seq = next_seq_++;
  pending.level = level;
  pending.pressed_at = now;
  bool head_changed = queue_len_ == 0;
  if (queue_len_ >= QUEUE_SIZE) {
    for (uint8_t j = 0; j + 1 < queue_len_; j++) queue_[j] = queue_[j + 1];
    queue_len_--;
    if (dropped_ < 65535U) dropped_++;
    head_changed = true;
  }
  queue_[queue_len_++] = pending;
  if (head_changed) send_head(now);
  override_active_ = false;
  beep_pending_ = true;
  beep_hz_ = CONFIRM_BEEP_HZ;
  beep_ms_ = CONFIRM_BEEP_MS;
  if (config_.lockout_ms) {
    locked_ = true;
    lock_until_ = now + config_.lockout_ms;
    press_at_ = now;
    press_level_ = level;
    ignored_ = 0;
    send_lock(config_.lockout_ms, 0);
  }
}

void Pad::tick(uint32_t now) {
  if (!started_) return;
  expire(now);
  if (queue_len_ && reached(now, next_tx_)) {
    if (transmissions_ < 255) transmissions_++;
    send_rating(queue_[0], now);
    next_tx_ = now + retry_interval(transmissions_);
  }
  if (reached(now, next_hb_)) send_hb(now);
}

uint16_t Pad::leds(uint32_t now) const {
  if (override_active_ && !reached(now, override_until_)) return override_mask_;
  if (locked_ && !reached(now, lock_until_)) {
    bool blink_on = ((now - press_at_) / THANKS_BLINK_MS) % 2 == 0;
    return (uint16_t)(THANKS_LED | (blink_on ? (1u << (press_level_ - 1)) : 0u));
  }
  if (prompt_active_ && !reached(now, prompt_deadline_)) return (uint16_t)((1u << prompt_levels_) - 1);
  return 0;
}

bool Pad::take_beep(uint16_t *hz, uint16_t *ms) {
  if (!beep_pending_) return false;
  beep_pending_ = false;
  *hz = beep_hz_;
  *ms = beep_ms_;
  return true;
}

bool Pad::host_online(uint32_t now) const {
  return rx_seen_ && (uint32_t)(now - last_rx_) < (uint32_t)LINK_TIMEOUT_FACTOR * config_.hb_ms;
}

}  // namespace padproto
