/*
 * sluice_json: a small JSON reader and writer for Sluice plugins in C.
 *
 * Manifests and configs cross the plugin boundary as JSON text, so every
 * plugin needs to parse and write it. This file has no dependency on the
 * generated bindings and builds natively too (the SDK's tests run it under
 * AddressSanitizer).
 *
 * Reading: sluice_json_parse() turns text into a tree of sluice_json_t nodes
 * that the caller frees with sluice_json_free(). Strings are decoded (escapes,
 * \uXXXX with surrogate pairs, to UTF-8) and NUL-terminated; numbers keep
 * their text so they are written back exactly. Nesting is limited to
 * SLUICE_JSON_MAX_DEPTH.
 *
 * Writing: sluice_jw_t appends JSON to a growing buffer; it places commas and
 * colons itself, escapes strings, and can copy a parsed tree.
 *
 * Allocation failure aborts (a trap the host reports): a plugin has no useful
 * way to go on without memory.
 */
#ifndef SLUICE_JSON_H
#define SLUICE_JSON_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Deeper documents are refused rather than risking the stack. */
#define SLUICE_JSON_MAX_DEPTH 256

typedef enum {
  SLUICE_JSON_NULL,
  SLUICE_JSON_BOOL,
  SLUICE_JSON_NUMBER,
  SLUICE_JSON_STRING,
  SLUICE_JSON_ARRAY,
  SLUICE_JSON_OBJECT,
} sluice_json_type_t;

typedef struct sluice_json sluice_json_t;
typedef struct sluice_json_member sluice_json_member_t;

struct sluice_json {
  sluice_json_type_t type;
  union {
    bool boolean;
    /* The value and its text as written (for exact output). */
    struct {
      double value;
      char *text;
    } number;
    /* Decoded UTF-8, NUL-terminated; len counts bytes (a \u0000 may be inside). */
    struct {
      char *ptr;
      size_t len;
    } string;
    struct {
      sluice_json_t *items;
      size_t len;
    } array;
    /* Members in document order. */
    struct {
      sluice_json_member_t *members;
      size_t len;
    } object;
  } u;
};

struct sluice_json_member {
  char *key; /* decoded, NUL-terminated */
  size_t key_len;
  sluice_json_t value;
};

/*
 * Parses `len` bytes of `text` (one JSON value, surrounded by optional
 * whitespace). Returns the tree, or NULL with a message such as
 * "line 3, column 7: expected ',' or '}'" written to `err` (when `err_len` > 0).
 */
sluice_json_t *sluice_json_parse(const char *text, size_t len, char *err, size_t err_len);

/* Frees a tree returned by sluice_json_parse (NULL is fine). */
void sluice_json_free(sluice_json_t *value);

/* The member `key` of an object (the last one when a key repeats), or NULL
 * when `value` is NULL, not an object or has no such member. */
const sluice_json_t *sluice_json_get(const sluice_json_t *value, const char *key);

/* Follows a dotted path of object keys ("spec.template.spec"); NULL when any
 * step is missing. Keys containing dots need sluice_json_get. */
const sluice_json_t *sluice_json_path(const sluice_json_t *value, const char *path);

/* Item `index` of an array, or NULL (not an array, out of bounds). */
const sluice_json_t *sluice_json_at(const sluice_json_t *value, size_t index);

/* Items of an array or members of an object; 0 for anything else. */
size_t sluice_json_len(const sluice_json_t *value);

/* The string's text, or NULL when `value` is not a string. */
const char *sluice_json_string(const sluice_json_t *value);

/* The string's text, or `fallback` when `value` is not a string. */
const char *sluice_json_string_or(const sluice_json_t *value, const char *fallback);

/* True when `value` is a non-NULL node of `type`. */
bool sluice_json_is(const sluice_json_t *value, sluice_json_type_t type);

/* ---- writing ---------------------------------------------------------- */

typedef struct {
  char *ptr; /* NUL-terminated text so far (NULL before anything was written) */
  size_t len;
  size_t cap;
  bool comma; /* internal: a value precedes, the next one needs a ',' */
} sluice_jw_t;

/* An empty writer; equivalent to zero-initialising. */
void sluice_jw_init(sluice_jw_t *w);
void sluice_jw_object_begin(sluice_jw_t *w);
void sluice_jw_object_end(sluice_jw_t *w);
void sluice_jw_array_begin(sluice_jw_t *w);
void sluice_jw_array_end(sluice_jw_t *w);
/* A member name inside an object; the next call writes its value. */
void sluice_jw_key(sluice_jw_t *w, const char *key);
void sluice_jw_string(sluice_jw_t *w, const char *s);
void sluice_jw_string_n(sluice_jw_t *w, const char *s, size_t len);
/* Integral values within ±2^53 are written without a fraction; NaN and
 * infinities (not JSON) as null. */
void sluice_jw_number(sluice_jw_t *w, double n);
void sluice_jw_int(sluice_jw_t *w, long long n);
void sluice_jw_bool(sluice_jw_t *w, bool b);
void sluice_jw_null(sluice_jw_t *w);
/* Copies a parsed value (numbers keep their original text). */
void sluice_jw_value(sluice_jw_t *w, const sluice_json_t *value);
/* Hands over the text (malloc'd, NUL-terminated, "" when nothing was
 * written) and its length; the writer is empty again afterwards. */
char *sluice_jw_finish(sluice_jw_t *w, size_t *len);
/* Frees the text of a writer that is not finished. */
void sluice_jw_free(sluice_jw_t *w);

/* Serialises a parsed value to a new malloc'd string (compact form). */
char *sluice_json_write(const sluice_json_t *value, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
