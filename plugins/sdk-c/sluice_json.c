/* sluice_json: see sluice_json.h. */
#include "sluice_json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xrealloc(void *ptr, size_t size) {
  void *out = realloc(ptr, size ? size : 1);
  if (!out) abort();
  return out;
}

/* Capacity for at least `need` elements of `size` bytes, doubling, with a
 * check that the byte count does not overflow. */
static size_t grow(size_t cap, size_t need, size_t size) {
  size_t next = cap ? cap : 8;
  while (next < need) {
    if (next > SIZE_MAX / 2) abort();
    next *= 2;
  }
  if (next > SIZE_MAX / size) abort();
  return next;
}

/* ---- parsing ---------------------------------------------------------- */

typedef struct {
  const char *start;
  const char *p;
  const char *end;
  int depth;
  char *err;
  size_t err_len;
} parser_t;

static bool fail(parser_t *ps, const char *what) {
  if (ps->err && ps->err_len > 0) {
    size_t line = 1, column = 1;
    for (const char *c = ps->start; c < ps->p && c < ps->end; c++) {
      if (*c == '\n') {
        line++;
        column = 1;
      } else if (((unsigned char)*c & 0xC0) != 0x80) {
        column++;
      }
    }
    snprintf(ps->err, ps->err_len, "line %zu, column %zu: %s", line, column, what);
  }
  return false;
}

static void skip_ws(parser_t *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static void free_contents(sluice_json_t *v);

typedef struct {
  char *ptr;
  size_t len, cap;
} bytes_t;

static void bytes_push(bytes_t *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    if (b->len + n + 1 < b->len) abort();
    b->cap = grow(b->cap, b->len + n + 1, 1);
    b->ptr = xrealloc(b->ptr, b->cap);
  }
  memcpy(b->ptr + b->len, s, n);
  b->len += n;
  b->ptr[b->len] = '\0';
}

static void push_utf8(bytes_t *b, uint32_t cp) {
  char out[4];
  size_t n;
  if (cp < 0x80) {
    out[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  bytes_push(b, out, n);
}

/* Length of the well-formed UTF-8 sequence at `p` (RFC 3629: no overlong
 * forms, no surrogates, at most U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
  size_t avail = (size_t)(end - p);
  unsigned char c = p[0];
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0; /* overlong */
    if (c == 0xED && p[1] > 0x9F) return 0; /* surrogate */
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0; /* overlong */
    if (c == 0xF4 && p[1] > 0x8F) return 0; /* above U+10FFFF */
    return 4;
  }
  return 0;
}

static bool hex4(parser_t *ps, uint32_t *out) {
  if (ps->end - ps->p < 4) return fail(ps, "incomplete \\u escape");
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = ps->p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
    else return fail(ps, "invalid \\u escape (four hex digits expected)");
  }
  ps->p += 4;
  *out = v;
  return true;
}

/* Parses a string at the opening quote into a NUL-terminated buffer. */
static bool parse_string(parser_t *ps, char **out, size_t *out_len) {
  bytes_t b = {0};
  ps->p++; /* opening quote */
  bytes_push(&b, "", 0);
  for (;;) {
    const char *run = ps->p;
    while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' && (unsigned char)*ps->p >= 0x20) {
      size_t n = utf8_len((const unsigned char *)ps->p, (const unsigned char *)ps->end);
      if (n == 0) {
        free(b.ptr);
        return fail(ps, "invalid UTF-8 in string");
      }
      ps->p += n;
    }
    bytes_push(&b, run, (size_t)(ps->p - run));
    if (ps->p >= ps->end) {
      free(b.ptr);
      return fail(ps, "unterminated string");
    }
    char c = *ps->p;
    if (c == '"') {
      ps->p++;
      *out = b.ptr;
      *out_len = b.len;
      return true;
    }
    if (c != '\\') {
      free(b.ptr);
      return fail(ps, "control character in string (escape it)");
    }
    ps->p++;
    if (ps->p >= ps->end) {
      free(b.ptr);
      return fail(ps, "unterminated string");
    }
    char e = *ps->p++;
    const char *simple = NULL;
    switch (e) {
      case '"': simple = "\""; break;
      case '\\': simple = "\\"; break;
      case '/': simple = "/"; break;
      case 'b': simple = "\b"; break;
      case 'f': simple = "\f"; break;
      case 'n': simple = "\n"; break;
      case 'r': simple = "\r"; break;
      case 't': simple = "\t"; break;
      case 'u': {
        uint32_t cp;
        if (!hex4(ps, &cp)) {
          free(b.ptr);
          return false;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t low;
          if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') {
            free(b.ptr);
            return fail(ps, "high surrogate without a low surrogate");
          }
          ps->p += 2;
          if (!hex4(ps, &low)) {
            free(b.ptr);
            return false;
          }
          if (low < 0xDC00 || low > 0xDFFF) {
            free(b.ptr);
            return fail(ps, "high surrogate without a low surrogate");
          }
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          free(b.ptr);
          return fail(ps, "low surrogate without a high surrogate");
        }
        push_utf8(&b, cp);
        continue;
      }
      default:
        ps->p--;
        free(b.ptr);
        return fail(ps, "invalid escape in string");
    }
    bytes_push(&b, simple, 1);
  }
}

static bool parse_number(parser_t *ps, sluice_json_t *v) {
  const char *s = ps->p;
  const char *p = s;
  if (p < ps->end && *p == '-') p++;
  if (p < ps->end && *p == '0') {
    p++;
  } else if (p < ps->end && *p >= '1' && *p <= '9') {
    while (p < ps->end && *p >= '0' && *p <= '9') p++;
  } else {
    ps->p = p;
    return fail(ps, "invalid number");
  }
  if (p < ps->end && *p == '.') {
    p++;
    if (p >= ps->end || *p < '0' || *p > '9') {
      ps->p = p;
      return fail(ps, "digits expected after '.'");
    }
    while (p < ps->end && *p >= '0' && *p <= '9') p++;
  }
  if (p < ps->end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < ps->end && (*p == '+' || *p == '-')) p++;
    if (p >= ps->end || *p < '0' || *p > '9') {
      ps->p = p;
      return fail(ps, "digits expected in exponent");
    }
    while (p < ps->end && *p >= '0' && *p <= '9') p++;
  }
  size_t n = (size_t)(p - s);
  char *text = xrealloc(NULL, n + 1);
  memcpy(text, s, n);
  text[n] = '\0';
  v->type = SLUICE_JSON_NUMBER;
  v->u.number.text = text;
  v->u.number.value = strtod(text, NULL);
  ps->p = p;
  return true;
}

static bool literal(parser_t *ps, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return fail(ps, "unexpected character");
  ps->p += n;
  return true;
}

static bool parse_value(parser_t *ps, sluice_json_t *v);

static bool parse_array(parser_t *ps, sluice_json_t *v) {
  sluice_json_t *items = NULL;
  size_t len = 0, cap = 0;
  ps->p++; /* [ */
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == ']') {
    ps->p++;
  } else {
    for (;;) {
      if (len == cap) {
        cap = grow(cap, len + 1, sizeof *items);
        items = xrealloc(items, cap * sizeof *items);
      }
      if (!parse_value(ps, &items[len])) goto error;
      len++;
      skip_ws(ps);
      if (ps->p < ps->end && *ps->p == ',') {
        ps->p++;
        continue;
      }
      if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        break;
      }
      fail(ps, "expected ',' or ']'");
      goto error;
    }
  }
  v->type = SLUICE_JSON_ARRAY;
  v->u.array.items = items;
  v->u.array.len = len;
  return true;
error:
  for (size_t i = 0; i < len; i++) free_contents(&items[i]);
  free(items);
  return false;
}

static bool parse_object(parser_t *ps, sluice_json_t *v) {
  sluice_json_member_t *members = NULL;
  size_t len = 0, cap = 0;
  ps->p++; /* { */
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == '}') {
    ps->p++;
  } else {
    for (;;) {
      skip_ws(ps);
      if (ps->p >= ps->end || *ps->p != '"') {
        fail(ps, "expected a member name in double quotes");
        goto error;
      }
      if (len == cap) {
        cap = grow(cap, len + 1, sizeof *members);
        members = xrealloc(members, cap * sizeof *members);
      }
      sluice_json_member_t *m = &members[len];
      if (!parse_string(ps, &m->key, &m->key_len)) goto error;
      skip_ws(ps);
      if (ps->p >= ps->end || *ps->p != ':') {
        free(m->key);
        fail(ps, "expected ':' after the member name");
        goto error;
      }
      ps->p++;
      if (!parse_value(ps, &m->value)) {
        free(m->key);
        goto error;
      }
      len++;
      skip_ws(ps);
      if (ps->p < ps->end && *ps->p == ',') {
        ps->p++;
        continue;
      }
      if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        break;
      }
      fail(ps, "expected ',' or '}'");
      goto error;
    }
  }
  v->type = SLUICE_JSON_OBJECT;
  v->u.object.members = members;
  v->u.object.len = len;
  return true;
error:
  for (size_t i = 0; i < len; i++) {
    free(members[i].key);
    free_contents(&members[i].value);
  }
  free(members);
  return false;
}

static bool parse_value(parser_t *ps, sluice_json_t *v) {
  skip_ws(ps);
  if (ps->p >= ps->end) return fail(ps, "unexpected end of input");
  switch (*ps->p) {
    case '{':
    case '[': {
      if (ps->depth >= SLUICE_JSON_MAX_DEPTH) return fail(ps, "nested too deeply");
      ps->depth++;
      bool ok = *ps->p == '{' ? parse_object(ps, v) : parse_array(ps, v);
      ps->depth--;
      return ok;
    }
    case '"':
      v->type = SLUICE_JSON_STRING;
      return parse_string(ps, &v->u.string.ptr, &v->u.string.len);
    case 't':
      v->type = SLUICE_JSON_BOOL;
      v->u.boolean = true;
      return literal(ps, "true");
    case 'f':
      v->type = SLUICE_JSON_BOOL;
      v->u.boolean = false;
      return literal(ps, "false");
    case 'n':
      v->type = SLUICE_JSON_NULL;
      return literal(ps, "null");
    default:
      if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) return parse_number(ps, v);
      return fail(ps, "unexpected character");
  }
}

sluice_json_t *sluice_json_parse(const char *text, size_t len, char *err, size_t err_len) {
  parser_t ps = {text, text, text + len, 0, err, err_len};
  sluice_json_t *v = xrealloc(NULL, sizeof *v);
  if (!parse_value(&ps, v)) {
    free(v);
    return NULL;
  }
  skip_ws(&ps);
  if (ps.p != ps.end) {
    fail(&ps, "unexpected text after the value");
    sluice_json_free(v);
    return NULL;
  }
  return v;
}

static void free_contents(sluice_json_t *v) {
  switch (v->type) {
    case SLUICE_JSON_NUMBER:
      free(v->u.number.text);
      break;
    case SLUICE_JSON_STRING:
      free(v->u.string.ptr);
      break;
    case SLUICE_JSON_ARRAY:
      for (size_t i = 0; i < v->u.array.len; i++) free_contents(&v->u.array.items[i]);
      free(v->u.array.items);
      break;
    case SLUICE_JSON_OBJECT:
      for (size_t i = 0; i < v->u.object.len; i++) {
        free(v->u.object.members[i].key);
        free_contents(&v->u.object.members[i].value);
      }
      free(v->u.object.members);
      break;
    case SLUICE_JSON_NULL:
    case SLUICE_JSON_BOOL:
      break;
  }
}

void sluice_json_free(sluice_json_t *value) {
  if (!value) return;
  free_contents(value);
  free(value);
}

/* ---- access ----------------------------------------------------------- */

static const sluice_json_t *get_n(const sluice_json_t *value, const char *key, size_t key_len) {
  if (!sluice_json_is(value, SLUICE_JSON_OBJECT)) return NULL;
  for (size_t i = value->u.object.len; i > 0; i--) {
    const sluice_json_member_t *m = &value->u.object.members[i - 1];
    if (m->key_len == key_len && memcmp(m->key, key, key_len) == 0) return &m->value;
  }
  return NULL;
}

const sluice_json_t *sluice_json_get(const sluice_json_t *value, const char *key) {
  return get_n(value, key, strlen(key));
}

const sluice_json_t *sluice_json_path(const sluice_json_t *value, const char *path) {
  const char *p = path;
  while (value) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    value = get_n(value, p, n);
    if (!dot) break;
    p = dot + 1;
  }
  return value;
}

const sluice_json_t *sluice_json_at(const sluice_json_t *value, size_t index) {
  if (!sluice_json_is(value, SLUICE_JSON_ARRAY) || index >= value->u.array.len) return NULL;
  return &value->u.array.items[index];
}

size_t sluice_json_len(const sluice_json_t *value) {
  if (sluice_json_is(value, SLUICE_JSON_ARRAY)) return value->u.array.len;
  if (sluice_json_is(value, SLUICE_JSON_OBJECT)) return value->u.object.len;
  return 0;
}

const char *sluice_json_string(const sluice_json_t *value) {
  return sluice_json_is(value, SLUICE_JSON_STRING) ? value->u.string.ptr : NULL;
}

const char *sluice_json_string_or(const sluice_json_t *value, const char *fallback) {
  const char *s = sluice_json_string(value);
  return s ? s : fallback;
}

bool sluice_json_is(const sluice_json_t *value, sluice_json_type_t type) {
  return value && value->type == type;
}

/* ---- writing ---------------------------------------------------------- */

void sluice_jw_init(sluice_jw_t *w) {
  w->ptr = NULL;
  w->len = 0;
  w->cap = 0;
  w->comma = false;
}

static void put(sluice_jw_t *w, const char *s, size_t n) {
  if (w->len + n + 1 > w->cap || !w->ptr) {
    if (w->len + n + 1 < w->len) abort();
    w->cap = grow(w->cap, w->len + n + 1, 1);
    w->ptr = xrealloc(w->ptr, w->cap);
  }
  memcpy(w->ptr + w->len, s, n);
  w->len += n;
  w->ptr[w->len] = '\0';
}

/* Before any value: the separator from the previous one. */
static void before(sluice_jw_t *w) {
  if (w->comma) put(w, ",", 1);
  w->comma = false;
}

static void quoted(sluice_jw_t *w, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  put(w, "\"", 1);
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char u[6];
    switch (c) {
      case '"': esc = "\\\""; break;
      case '\\': esc = "\\\\"; break;
      case '\n': esc = "\\n"; break;
      case '\r': esc = "\\r"; break;
      case '\t': esc = "\\t"; break;
      case '\b': esc = "\\b"; break;
      case '\f': esc = "\\f"; break;
      default:
        if (c < 0x20) {
          u[0] = '\\';
          u[1] = 'u';
          u[2] = '0';
          u[3] = '0';
          u[4] = hex[c >> 4];
          u[5] = hex[c & 15];
        }
    }
    if (!esc && c >= 0x20) continue;
    put(w, s + run, i - run);
    if (esc) put(w, esc, strlen(esc));
    else put(w, u, 6);
    run = i + 1;
  }
  put(w, s + run, n - run);
  put(w, "\"", 1);
}

void sluice_jw_object_begin(sluice_jw_t *w) {
  before(w);
  put(w, "{", 1);
}

void sluice_jw_object_end(sluice_jw_t *w) {
  put(w, "}", 1);
  w->comma = true;
}

void sluice_jw_array_begin(sluice_jw_t *w) {
  before(w);
  put(w, "[", 1);
}

void sluice_jw_array_end(sluice_jw_t *w) {
  put(w, "]", 1);
  w->comma = true;
}

void sluice_jw_key(sluice_jw_t *w, const char *key) {
  before(w);
  quoted(w, key, strlen(key));
  put(w, ":", 1);
}

void sluice_jw_string(sluice_jw_t *w, const char *s) { sluice_jw_string_n(w, s, strlen(s)); }

void sluice_jw_string_n(sluice_jw_t *w, const char *s, size_t len) {
  before(w);
  quoted(w, s, len);
  w->comma = true;
}

void sluice_jw_number(sluice_jw_t *w, double n) {
  char buf[32];
  if (!isfinite(n)) {
    sluice_jw_null(w);
    return;
  }
  if (n == floor(n) && fabs(n) <= 9007199254740992.0) {
    sluice_jw_int(w, (long long)n);
    return;
  }
  /* The shortest precision that reads back as the same double. */
  for (int precision = 15; precision <= 17; precision++) {
    snprintf(buf, sizeof buf, "%.*g", precision, n);
    if (strtod(buf, NULL) == n) break;
  }
  before(w);
  put(w, buf, strlen(buf));
  w->comma = true;
}

void sluice_jw_int(sluice_jw_t *w, long long n) {
  char buf[24];
  snprintf(buf, sizeof buf, "%lld", n);
  before(w);
  put(w, buf, strlen(buf));
  w->comma = true;
}

void sluice_jw_bool(sluice_jw_t *w, bool b) {
  before(w);
  put(w, b ? "true" : "false", b ? 4 : 5);
  w->comma = true;
}

void sluice_jw_null(sluice_jw_t *w) {
  before(w);
  put(w, "null", 4);
  w->comma = true;
}

void sluice_jw_value(sluice_jw_t *w, const sluice_json_t *value) {
  switch (value->type) {
    case SLUICE_JSON_NULL:
      sluice_jw_null(w);
      break;
    case SLUICE_JSON_BOOL:
      sluice_jw_bool(w, value->u.boolean);
      break;
    case SLUICE_JSON_NUMBER:
      before(w);
      put(w, value->u.number.text, strlen(value->u.number.text));
      w->comma = true;
      break;
    case SLUICE_JSON_STRING:
      sluice_jw_string_n(w, value->u.string.ptr, value->u.string.len);
      break;
    case SLUICE_JSON_ARRAY:
      sluice_jw_array_begin(w);
      for (size_t i = 0; i < value->u.array.len; i++) sluice_jw_value(w, &value->u.array.items[i]);
      sluice_jw_array_end(w);
      break;
    case SLUICE_JSON_OBJECT:
      sluice_jw_object_begin(w);
      for (size_t i = 0; i < value->u.object.len; i++) {
        const sluice_json_member_t *m = &value->u.object.members[i];
        before(w);
        quoted(w, m->key, m->key_len);
        put(w, ":", 1);
        sluice_jw_value(w, &m->value);
      }
      sluice_jw_object_end(w);
      break;
  }
}

char *sluice_jw_finish(sluice_jw_t *w, size_t *len) {
  if (!w->ptr) put(w, "", 0);
  char *out = w->ptr;
  if (len) *len = w->len;
  sluice_jw_init(w);
  return out;
}

void sluice_jw_free(sluice_jw_t *w) {
  free(w->ptr);
  sluice_jw_init(w);
}

char *sluice_json_write(const sluice_json_t *value, size_t *len) {
  sluice_jw_t w;
  sluice_jw_init(&w);
  sluice_jw_value(&w, value);
  return sluice_jw_finish(&w, len);
}
