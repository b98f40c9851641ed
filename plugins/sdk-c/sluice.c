/* The Sluice C SDK: see sluice.h. */
#include "sluice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xmalloc(size_t size) {
  void *p = malloc(size ? size : 1);
  if (!p) abort();
  return p;
}

/* Room for one more element in a list of `cap` elements of `size` bytes. */
static void *reserve(void *ptr, size_t len, size_t *cap, size_t size) {
  if (len < *cap) return ptr;
  size_t next = *cap ? *cap * 2 : 8;
  if (next < *cap || next > SIZE_MAX / size) abort();
  void *out = realloc(ptr, next * size);
  if (!out) abort();
  *cap = next;
  return out;
}

static char *vformat(const char *fmt, va_list args, size_t *len) {
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n < 0) abort();
  char *out = xmalloc((size_t)n + 1);
  vsnprintf(out, (size_t)n + 1, fmt, args);
  *len = (size_t)n;
  return out;
}

sluice_string_t sluice_string(const char *s) { return sluice_string_n(s ? s : "", s ? strlen(s) : 0); }

sluice_string_t sluice_string_n(const char *s, size_t len) {
  sluice_string_t out = {NULL, 0};
  if (len) {
    out.ptr = xmalloc(len);
    memcpy(out.ptr, s, len);
    out.len = len;
  }
  return out;
}

sluice_string_t sluice_string_printf(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  size_t len;
  char *s = vformat(fmt, args, &len);
  va_end(args);
  return sluice_string_take(s, len);
}

char *sluice_format(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  size_t len;
  char *s = vformat(fmt, args, &len);
  va_end(args);
  return s;
}

sluice_string_t sluice_string_take(char *s, size_t len) {
  /* The bindings free only non-empty strings, so an empty one owns nothing. */
  sluice_string_t out = {NULL, 0};
  if (len) {
    out.ptr = (uint8_t *)s;
    out.len = len;
  } else {
    free(s);
  }
  return out;
}

char *sluice_cstring(const sluice_string_t *s) {
  char *out = xmalloc(s->len + 1);
  if (s->len) memcpy(out, s->ptr, s->len);
  out[s->len] = '\0';
  return out;
}

sluice_option_string_t sluice_option_string(const char *s) {
  sluice_option_string_t out;
  memset(&out, 0, sizeof out);
  if (s) {
    out.is_some = true;
    out.val = sluice_string(s);
  }
  return out;
}

sluice_json_t *sluice_parse(const sluice_string_t *s, char *err, size_t err_len) {
  return sluice_json_parse((const char *)s->ptr, s->len, err, err_len);
}

void sluice_log(sluice_plugin_log_level_t level, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  size_t len;
  char *text = vformat(fmt, args, &len);
  va_end(args);
  sluice_string_t message = {(uint8_t *)text, len};
  sluice_plugin_log_log(level, &message);
  free(text);
}

void sluice_metadata(sluice_plugin_types_plugin_metadata_t *ret, const char *name, const char *version,
                     sluice_plugin_types_plugin_kind_t kind, const char *description) {
  ret->name = sluice_string(name);
  ret->version = sluice_string(version);
  ret->kind = kind;
  ret->description = sluice_string(description);
}

static sluice_plugin_types_diagnostic_t *vdiagnostic(sluice_diagnostics_t *list, sluice_plugin_types_severity_t severity,
                                                     const char *code, const char *fmt, va_list args) {
  list->ptr = reserve(list->ptr, list->len, &list->cap, sizeof *list->ptr);
  sluice_plugin_types_diagnostic_t *d = &list->ptr[list->len++];
  memset(d, 0, sizeof *d);
  d->severity = severity;
  size_t len;
  char *message = vformat(fmt, args, &len);
  d->message = sluice_string_take(message, len);
  d->code = sluice_option_string(code);
  return d;
}

sluice_plugin_types_diagnostic_t *sluice_diagnostic(sluice_diagnostics_t *list, sluice_plugin_types_severity_t severity,
                                                    const char *code, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  sluice_plugin_types_diagnostic_t *d = vdiagnostic(list, severity, code, fmt, args);
  va_end(args);
  return d;
}

void sluice_diagnostic_field(sluice_plugin_types_diagnostic_t *d, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  size_t len;
  char *path = vformat(fmt, args, &len);
  va_end(args);
  if (d->field_path.is_some) free(d->field_path.val.ptr);
  d->field_path.is_some = true;
  d->field_path.val = sluice_string_take(path, len);
}

void sluice_diagnostic_resource(sluice_plugin_types_diagnostic_t *d, const sluice_json_t *object) {
  if (d->resource.is_some) sluice_plugin_types_resource_ref_free(&d->resource.val);
  const sluice_json_t *meta = sluice_json_get(object, "metadata");
  d->resource.is_some = true;
  d->resource.val.api_version = sluice_string(sluice_json_string_or(sluice_json_get(object, "apiVersion"), ""));
  d->resource.val.kind = sluice_string(sluice_json_string_or(sluice_json_get(object, "kind"), ""));
  d->resource.val.namespace_ = sluice_string(sluice_json_string_or(sluice_json_get(meta, "namespace"), ""));
  d->resource.val.name = sluice_string(sluice_json_string_or(sluice_json_get(meta, "name"), ""));
}

void sluice_diagnostic_location(sluice_plugin_types_diagnostic_t *d,
                                const sluice_plugin_types_option_source_location_t *location) {
  if (d->location.is_some) sluice_plugin_types_source_location_free(&d->location.val);
  d->location.is_some = location && location->is_some;
  if (d->location.is_some) {
    d->location.val.file = sluice_string_n((const char *)location->val.file.ptr, location->val.file.len);
    d->location.val.line = location->val.line;
    d->location.val.column = location->val.column;
  }
}

bool sluice_diagnostics_has_errors(const sluice_diagnostics_t *list) {
  for (size_t i = 0; i < list->len; i++) {
    if (list->ptr[i].severity == SLUICE_PLUGIN_TYPES_SEVERITY_ERROR) return true;
  }
  return false;
}

sluice_list_diagnostic_t sluice_diagnostics_list(sluice_diagnostics_t *list) {
  sluice_list_diagnostic_t out;
  out.ptr = list->ptr;
  out.len = list->len;
  memset(list, 0, sizeof *list);
  return out;
}

sluice_plugin_types_failure_t sluice_diagnostics_failure(sluice_diagnostics_t *list) {
  sluice_plugin_types_failure_t out;
  out.ptr = list->ptr;
  out.len = list->len;
  memset(list, 0, sizeof *list);
  return out;
}

void sluice_diagnostics_free(sluice_diagnostics_t *list) {
  for (size_t i = 0; i < list->len; i++) sluice_plugin_types_diagnostic_free(&list->ptr[i]);
  free(list->ptr);
  memset(list, 0, sizeof *list);
}

sluice_plugin_types_failure_t sluice_failure(const char *code, const char *fmt, ...) {
  sluice_diagnostics_t list = {0};
  va_list args;
  va_start(args, fmt);
  vdiagnostic(&list, SLUICE_PLUGIN_TYPES_SEVERITY_ERROR, code, fmt, args);
  va_end(args);
  return sluice_diagnostics_failure(&list);
}

void sluice_manifests_push(sluice_manifests_t *list, char *json, size_t len, const char *file, uint32_t line) {
  list->ptr = reserve(list->ptr, list->len, &list->cap, sizeof *list->ptr);
  sluice_plugin_types_manifest_t *m = &list->ptr[list->len++];
  memset(m, 0, sizeof *m);
  m->json = sluice_string_take(json, len);
  if (file) {
    m->origin.is_some = true;
    m->origin.val.file = sluice_string(file);
    m->origin.val.line = line;
  }
}

void sluice_manifests_push_json(sluice_manifests_t *list, const sluice_json_t *value, const char *file, uint32_t line) {
  size_t len;
  char *json = sluice_json_write(value, &len);
  sluice_manifests_push(list, json, len, file, line);
}

sluice_list_manifest_t sluice_manifests_list(sluice_manifests_t *list) {
  sluice_list_manifest_t out;
  out.ptr = list->ptr;
  out.len = list->len;
  memset(list, 0, sizeof *list);
  return out;
}

void sluice_manifests_free(sluice_manifests_t *list) {
  for (size_t i = 0; i < list->len; i++) sluice_plugin_types_manifest_free(&list->ptr[i]);
  free(list->ptr);
  memset(list, 0, sizeof *list);
}
