/* sluice_k8s: see sluice_k8s.h. */
#include "sluice_k8s.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  const char *kind;
  const char *path;
} POD_SPECS[] = {
    {"Pod", "spec"},
    {"Deployment", "spec.template.spec"},
    {"StatefulSet", "spec.template.spec"},
    {"DaemonSet", "spec.template.spec"},
    {"ReplicaSet", "spec.template.spec"},
    {"Job", "spec.template.spec"},
    {"CronJob", "spec.jobTemplate.spec.template.spec"},
};

const char *sluice_pod_spec_path(const char *kind) {
  if (!kind) return NULL;
  for (size_t i = 0; i < sizeof POD_SPECS / sizeof POD_SPECS[0]; i++) {
    if (strcmp(POD_SPECS[i].kind, kind) == 0) return POD_SPECS[i].path;
  }
  return NULL;
}

const sluice_json_t *sluice_pod_spec(const sluice_json_t *object, const char **path) {
  const char *at = sluice_pod_spec_path(sluice_json_string(sluice_json_get(object, "kind")));
  if (path) *path = at;
  if (!at) return NULL;
  const sluice_json_t *spec = sluice_json_path(object, at);
  return sluice_json_is(spec, SLUICE_JSON_OBJECT) ? spec : NULL;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool sluice_quantity(const char *text, double *value) {
  static const struct {
    const char *suffix;
    double factor;
  } SUFFIXES[] = {
      {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
      {"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0},
      {"n", 1e-9}, {"u", 1e-6}, {"m", 1e-3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9},
      {"T", 1e12}, {"P", 1e15}, {"E", 1e18}, {"", 1.0},
  };
  if (!text) return false;
  while (is_space(*text)) text++;
  size_t n = strlen(text);
  while (n > 0 && is_space(text[n - 1])) n--;

  /* The number: digits and dots, at least one character, one dot at most
   * (Kubernetes accepts no more, and strtod would stop at a second one). */
  size_t i = 0, dots = 0, digits = 0;
  while (i < n && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) {
    if (text[i] == '.') dots++;
    else digits++;
    i++;
  }
  if (digits == 0 || dots > 1) return false;
  char number[64];
  if (i >= sizeof number) return false;
  memcpy(number, text, i);
  number[i] = '\0';
  double base = strtod(number, NULL);

  const char *rest = text + i;
  size_t rest_len = n - i;
  /* An exponent: e or E followed by digits only. */
  if (rest_len >= 2 && (rest[0] == 'e' || rest[0] == 'E')) {
    size_t j = 1;
    while (j < rest_len && rest[j] >= '0' && rest[j] <= '9') j++;
    if (j == rest_len) {
      if (rest_len - 1 >= sizeof number) return false;
      memcpy(number, rest + 1, rest_len - 1);
      number[rest_len - 1] = '\0';
      *value = base * pow(10.0, strtod(number, NULL));
      return true;
    }
  }
  for (size_t s = 0; s < sizeof SUFFIXES / sizeof SUFFIXES[0]; s++) {
    if (strlen(SUFFIXES[s].suffix) == rest_len && memcmp(SUFFIXES[s].suffix, rest, rest_len) == 0) {
      *value = base * SUFFIXES[s].factor;
      return true;
    }
  }
  return false;
}

bool sluice_quantity_json(const sluice_json_t *value, double *out) {
  if (sluice_json_is(value, SLUICE_JSON_STRING)) return sluice_quantity(value->u.string.ptr, out);
  if (sluice_json_is(value, SLUICE_JSON_NUMBER) && value->u.number.value >= 0) {
    *out = value->u.number.value;
    return true;
  }
  return false;
}
