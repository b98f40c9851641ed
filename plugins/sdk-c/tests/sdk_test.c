/*
 * Native tests of the world-independent parts of the C SDK (sluice_json,
 * sluice_k8s). Run under AddressSanitizer and UBSan:
 *
 *   clang -std=c11 -Wall -Wextra -Werror -fsanitize=address,undefined -g \
 *     -I.. ../sluice_json.c ../sluice_k8s.c sdk_test.c -lm -o sdk_test && ./sdk_test
 *
 * (runtime/cli/tests/plugin_c.rs does exactly this.)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice_json.h"
#include "sluice_k8s.h"

static int failures = 0;

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                       \
    }                                                                   \
  } while (0)

static sluice_json_t *parse(const char *text) { return sluice_json_parse(text, strlen(text), NULL, 0); }

/* Parses and writes back; the compact text must equal `expected`. */
static void round_trip(const char *text, const char *expected) {
  char err[128] = "";
  sluice_json_t *v = sluice_json_parse(text, strlen(text), err, sizeof err);
  if (!v) {
    fprintf(stderr, "round trip of %s: %s\n", text, err);
    failures++;
    return;
  }
  size_t len;
  char *out = sluice_json_write(v, &len);
  if (strcmp(out, expected) != 0 || len != strlen(expected)) {
    fprintf(stderr, "round trip of %s: got %s, want %s\n", text, out, expected);
    failures++;
  }
  free(out);
  sluice_json_free(v);
}

/* Must be refused, with `message` in the error text. */
static void refused(const char *text, size_t len, const char *message) {
  char err[128] = "";
  sluice_json_t *v = sluice_json_parse(text, len, err, sizeof err);
  if (v || !strstr(err, message)) {
    fprintf(stderr, "parsing %.*s: got %s, want an error with \"%s\"\n", (int)len, text, v ? "a value" : err, message);
    failures++;
  }
  sluice_json_free(v);
}

static void test_access(void) {
  sluice_json_t *v = parse(
      " {\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"labels\":{\"a.b/c\":\"x\"}},"
      "\"list\":[1,-2.5e3,true,false,null,\"s\"],\"dup\":1,\"dup\":2}\n");
  CHECK(v && v->type == SLUICE_JSON_OBJECT);
  CHECK(strcmp(sluice_json_string(sluice_json_get(v, "kind")), "Deployment") == 0);
  CHECK(strcmp(sluice_json_string(sluice_json_path(v, "metadata.name")), "web") == 0);
  CHECK(sluice_json_path(v, "metadata.nope.deeper") == NULL);
  CHECK(sluice_json_path(v, "kind.deeper") == NULL);
  CHECK(strcmp(sluice_json_string(sluice_json_get(sluice_json_path(v, "metadata.labels"), "a.b/c")), "x") == 0);
  const sluice_json_t *list = sluice_json_get(v, "list");
  CHECK(sluice_json_len(list) == 6);
  CHECK(sluice_json_at(list, 1)->u.number.value == -2500.0);
  CHECK(strcmp(sluice_json_at(list, 1)->u.number.text, "-2.5e3") == 0);
  CHECK(sluice_json_is(sluice_json_at(list, 2), SLUICE_JSON_BOOL) && sluice_json_at(list, 2)->u.boolean);
  CHECK(!sluice_json_at(list, 3)->u.boolean);
  CHECK(sluice_json_is(sluice_json_at(list, 4), SLUICE_JSON_NULL));
  CHECK(sluice_json_at(list, 6) == NULL);
  CHECK(sluice_json_at(v, 0) == NULL);
  CHECK(sluice_json_get(list, "x") == NULL);
  CHECK(sluice_json_get(NULL, "x") == NULL);
  CHECK(sluice_json_len(NULL) == 0);
  CHECK(sluice_json_string(sluice_json_at(list, 0)) == NULL);
  CHECK(strcmp(sluice_json_string_or(sluice_json_at(list, 0), "fallback"), "fallback") == 0);
  CHECK(sluice_json_get(v, "dup")->u.number.value == 2.0);
  CHECK(sluice_json_len(v) == 5);
  sluice_json_free(v);
}

static void test_strings(void) {
  sluice_json_t *v = parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t \\u00e9\\u20AC\\ud83d\\ude00 \\u0000z \xc3\xa9\"");
  CHECK(v && v->type == SLUICE_JSON_STRING);
  static const char want[] = "a\"b\\c/d\b\f\n\r\t \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \0z \xc3\xa9";
  CHECK(v->u.string.len == sizeof want - 1);
  CHECK(memcmp(v->u.string.ptr, want, sizeof want) == 0); /* includes the terminating NUL */
  size_t len;
  char *out = sluice_json_write(v, &len);
  static const char written[] = "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \\u0000z \xc3\xa9\"";
  CHECK(len == sizeof written - 1 && memcmp(out, written, sizeof written) == 0);
  free(out);
  sluice_json_free(v);

  v = parse("\"\"");
  CHECK(v && v->u.string.len == 0 && v->u.string.ptr[0] == '\0');
  sluice_json_free(v);
}

static void test_round_trips(void) {
  round_trip("{}", "{}");
  round_trip("[]", "[]");
  round_trip(" [ { } , [ ] , { \"a\" : [ 1 , { \"b\" : null } ] } ] ", "[{},[],{\"a\":[1,{\"b\":null}]}]");
  round_trip("[0,-0,1.50,1e400,-1E-7,12345678901234567890]", "[0,-0,1.50,1e400,-1E-7,12345678901234567890]");
  round_trip("{\"k\\n\":\"\\u001f\\u007f\"}", "{\"k\\n\":\"\\u001f\x7f\"}");
  round_trip("true", "true");
  round_trip("\t\r\n null \t\r\n", "null");
}

static void test_refused(void) {
  refused("", 0, "unexpected end of input");
  refused("   ", 3, "unexpected end of input");
  refused("{", 1, "expected a member name");
  refused("[1,]", 4, "unexpected character");
  refused("[1 2]", 5, "expected ',' or ']'");
  refused("{\"a\" 1}", 7, "expected ':'");
  refused("{\"a\":1,}", 8, "expected a member name");
  refused("{\"a\":1 \"b\":2}", 13, "expected ',' or '}'");
  refused("{a:1}", 5, "expected a member name");
  refused("01", 2, "unexpected text after the value");
  refused("1.", 2, "digits expected after '.'");
  refused("-", 1, "invalid number");
  refused("1e", 2, "digits expected in exponent");
  refused("+1", 2, "unexpected character");
  refused(".5", 2, "unexpected character");
  refused("\"\\x\"", 4, "invalid escape");
  refused("\"\\u12g4\"", 8, "invalid \\u escape");
  refused("\"\\u12\"", 6, "incomplete \\u escape");
  refused("\"\\u1", 4, "incomplete \\u escape");
  refused("\"a\x01\"", 4, "control character");
  refused("\"\\ud800\"", 8, "high surrogate without a low surrogate");
  refused("\"\\ud800\\u0041\"", 14, "high surrogate without a low surrogate");
  refused("\"\\udc00\"", 8, "low surrogate without a high surrogate");
  refused("\"abc", 4, "unterminated string");
  refused("\"abc\\", 5, "unterminated string");
  refused("\"\xff\"", 3, "invalid UTF-8");
  refused("\"\xc0\xaf\"", 4, "invalid UTF-8");       /* overlong '/' */
  refused("\"\xed\xa0\x80\"", 5, "invalid UTF-8");   /* encoded surrogate */
  refused("\"\xf4\x90\x80\x80\"", 6, "invalid UTF-8"); /* above U+10FFFF */
  refused("\"\xe2\x82\"", 4, "invalid UTF-8");       /* truncated */
  refused("tru", 3, "unexpected character");
  refused("nul", 3, "unexpected character");
  refused("[true false]", 12, "expected ',' or ']'");
  refused("[1] 2", 5, "unexpected text after the value");
  refused("{\"a\":1}\0", 8, "unexpected text after the value");

  char err[128] = "";
  const char *text = "{\n  \"a\": [1,\n    2 3]\n}";
  CHECK(sluice_json_parse(text, strlen(text), err, sizeof err) == NULL);
  CHECK(strcmp(err, "line 3, column 7: expected ',' or ']'") == 0);

  /* Only `len` bytes are read: a value cut short is refused. */
  CHECK(sluice_json_parse("[1,2]", 4, err, sizeof err) == NULL);
  /* A tiny error buffer is truncated, never overrun. */
  char tiny[8];
  CHECK(sluice_json_parse("[", 1, tiny, sizeof tiny) == NULL && strlen(tiny) == sizeof tiny - 1);
}

static void test_depth(void) {
  size_t n = SLUICE_JSON_MAX_DEPTH;
  char *text = malloc(2 * (n + 1) + 1);
  for (size_t i = 0; i < n; i++) text[i] = '[';
  for (size_t i = 0; i < n; i++) text[n + i] = ']';
  text[2 * n] = '\0';
  sluice_json_t *v = parse(text);
  CHECK(v != NULL);
  sluice_json_free(v);

  for (size_t i = 0; i <= n; i++) text[i] = '[';
  for (size_t i = 0; i <= n; i++) text[n + 1 + i] = ']';
  text[2 * (n + 1)] = '\0';
  char err[128] = "";
  CHECK(sluice_json_parse(text, strlen(text), err, sizeof err) == NULL);
  CHECK(strstr(err, "nested too deeply") != NULL);
  free(text);

  /* Errors deep inside nested values free what was built so far (ASan checks). */
  refused("{\"a\":[{\"b\":[1,2,{\"c\":\"x\"}]},{\"d\":tru}]}", 36, "unexpected character");
}

static void test_writer(void) {
  sluice_jw_t w;
  sluice_jw_init(&w);
  size_t len = 99;
  char *empty = sluice_jw_finish(&w, &len);
  CHECK(strcmp(empty, "") == 0 && len == 0);
  free(empty);

  sluice_jw_object_begin(&w);
  sluice_jw_key(&w, "name");
  sluice_jw_string(&w, "q\"\\\x01\t");
  sluice_jw_key(&w, "numbers");
  sluice_jw_array_begin(&w);
  sluice_jw_number(&w, 3.0);
  sluice_jw_number(&w, 0.1);
  sluice_jw_number(&w, -2.5);
  sluice_jw_number(&w, 1e21);
  sluice_jw_number(&w, NAN);
  sluice_jw_number(&w, INFINITY);
  sluice_jw_int(&w, -42);
  sluice_jw_array_end(&w);
  sluice_jw_key(&w, "nested");
  sluice_jw_object_begin(&w);
  sluice_jw_object_end(&w);
  sluice_jw_key(&w, "flags");
  sluice_jw_array_begin(&w);
  sluice_jw_bool(&w, true);
  sluice_jw_bool(&w, false);
  sluice_jw_null(&w);
  sluice_jw_array_begin(&w);
  sluice_jw_array_end(&w);
  sluice_jw_array_end(&w);
  sluice_json_t *copied = parse("{\"x\":[1.0,\"y\"]}");
  sluice_jw_key(&w, "copied");
  sluice_jw_value(&w, copied);
  sluice_json_free(copied);
  sluice_jw_key(&w, "bytes");
  sluice_jw_string_n(&w, "a\0b", 3);
  sluice_jw_object_end(&w);
  char *out = sluice_jw_finish(&w, &len);
  static const char want[] =
      "{\"name\":\"q\\\"\\\\\\u0001\\t\",\"numbers\":[3,0.1,-2.5,1e+21,null,null,-42],\"nested\":{},"
      "\"flags\":[true,false,null,[]],\"copied\":{\"x\":[1.0,\"y\"]},\"bytes\":\"a\\u0000b\"}";
  if (strcmp(out, want) != 0) fprintf(stderr, "writer: got %s\n", out);
  CHECK(strcmp(out, want) == 0 && len == strlen(want));
  sluice_json_t *back = parse(out);
  CHECK(back != NULL);
  sluice_json_free(back);
  free(out);

  /* A writer dropped half-way frees its text. */
  sluice_jw_array_begin(&w);
  sluice_jw_string(&w, "left over");
  sluice_jw_free(&w);
  CHECK(w.ptr == NULL && w.len == 0);
}

static void test_pod_specs(void) {
  CHECK(strcmp(sluice_pod_spec_path("Pod"), "spec") == 0);
  CHECK(strcmp(sluice_pod_spec_path("Deployment"), "spec.template.spec") == 0);
  CHECK(strcmp(sluice_pod_spec_path("StatefulSet"), "spec.template.spec") == 0);
  CHECK(strcmp(sluice_pod_spec_path("DaemonSet"), "spec.template.spec") == 0);
  CHECK(strcmp(sluice_pod_spec_path("ReplicaSet"), "spec.template.spec") == 0);
  CHECK(strcmp(sluice_pod_spec_path("Job"), "spec.template.spec") == 0);
  CHECK(strcmp(sluice_pod_spec_path("CronJob"), "spec.jobTemplate.spec.template.spec") == 0);
  CHECK(sluice_pod_spec_path("Service") == NULL);
  CHECK(sluice_pod_spec_path(NULL) == NULL);

  const char *path = "unset";
  sluice_json_t *cron = parse(
      "{\"kind\":\"CronJob\",\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"containers\":[]}}}}}}");
  const sluice_json_t *pod = sluice_pod_spec(cron, &path);
  CHECK(pod && sluice_json_is(sluice_json_get(pod, "containers"), SLUICE_JSON_ARRAY));
  CHECK(strcmp(path, "spec.jobTemplate.spec.template.spec") == 0);
  sluice_json_free(cron);

  sluice_json_t *bare = parse("{\"kind\":\"Deployment\",\"spec\":{\"template\":{\"spec\":7}}}");
  CHECK(sluice_pod_spec(bare, &path) == NULL && strcmp(path, "spec.template.spec") == 0);
  sluice_json_free(bare);
  sluice_json_t *svc = parse("{\"kind\":\"Service\",\"spec\":{}}");
  CHECK(sluice_pod_spec(svc, &path) == NULL && path == NULL);
  sluice_json_free(svc);
  CHECK(sluice_pod_spec(NULL, NULL) == NULL);
}

static void quantity(const char *text, double want) {
  double got = -1;
  bool ok = sluice_quantity(text, &got);
  if (!ok || fabs(got - want) > fabs(want) * 1e-12) {
    fprintf(stderr, "quantity %s: got %s %g, want %g\n", text, ok ? "ok" : "refused", got, want);
    failures++;
  }
}

static void not_quantity(const char *text) {
  double got;
  if (sluice_quantity(text, &got)) {
    fprintf(stderr, "quantity %s: accepted as %g\n", text, got);
    failures++;
  }
}

static void test_quantities(void) {
  quantity("500m", 0.5);
  quantity("2Gi", 2147483648.0);
  quantity("1Ki", 1024.0);
  quantity("1.5", 1.5);
  quantity(" 4 ", 4.0);
  quantity("1e3", 1000.0);
  quantity("2E2", 200.0);
  quantity("1E", 1e18);
  quantity("5n", 5e-9);
  quantity("3u", 3e-6);
  quantity("2k", 2000.0);
  quantity("1M", 1e6);
  quantity("1G", 1e9);
  quantity("1T", 1e12);
  quantity("1P", 1e15);
  quantity("1Ti", 1099511627776.0);
  quantity("1Pi", 1125899906842624.0);
  quantity("1Ei", 1152921504606846976.0);
  quantity(".5", 0.5);
  quantity("0", 0.0);
  not_quantity("");
  not_quantity(".");
  not_quantity("1.2.3");
  not_quantity("1K");
  not_quantity("1mi");
  not_quantity("1e");
  not_quantity("1e-3");
  not_quantity("-1");
  not_quantity("lots");
  not_quantity("1 Gi");
  not_quantity(NULL);

  double v;
  sluice_json_t *values = parse("[\"250m\",2,0.5,-1,true,null,\"x\"]");
  CHECK(sluice_quantity_json(sluice_json_at(values, 0), &v) && v == 0.25);
  CHECK(sluice_quantity_json(sluice_json_at(values, 1), &v) && v == 2.0);
  CHECK(sluice_quantity_json(sluice_json_at(values, 2), &v) && v == 0.5);
  CHECK(!sluice_quantity_json(sluice_json_at(values, 3), &v));
  CHECK(!sluice_quantity_json(sluice_json_at(values, 4), &v));
  CHECK(!sluice_quantity_json(sluice_json_at(values, 5), &v));
  CHECK(!sluice_quantity_json(sluice_json_at(values, 6), &v));
  CHECK(!sluice_quantity_json(NULL, &v));
  sluice_json_free(values);
}

int main(void) {
  test_access();
  test_strings();
  test_round_trips();
  test_refused();
  test_depth();
  test_writer();
  test_pod_specs();
  test_quantities();
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("sdk-c: all checks passed\n");
  return 0;
}
