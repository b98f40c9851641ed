/*
 * require-resources: a Sluice policy plugin written in C.
 *
 * Every container of every workload must declare resource requests and
 * limits (CPU and memory by default), and limits may not exceed configured
 * ceilings. The same policy as require-resources-py (codes, messages, field
 * paths), built with `sluice plugin build` (clang + wasi-libc, the C SDK in
 * sluice/sdk-c).
 */
#include <stdlib.h>
#include <string.h>

#include "sluice.h"

static const char SCHEMA[] =
    "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
    "\"title\":\"require-resources policy\",\"type\":\"object\",\"additionalProperties\":false,"
    "\"properties\":{"
    "\"resources\":{\"description\":\"Resource names every container must set (default cpu and memory)\","
    "\"type\":\"array\",\"items\":{\"type\":\"string\",\"minLength\":1}},"
    "\"require\":{\"description\":\"Which of requests and limits must be set (default both)\","
    "\"type\":\"array\",\"items\":{\"enum\":[\"requests\",\"limits\"]}},"
    "\"maxLimits\":{\"description\":\"Ceilings for limits, as Kubernetes quantities, e.g. "
    "{\\\"memory\\\": \\\"2Gi\\\", \\\"cpu\\\": \\\"4\\\"}\","
    "\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\","
    "\"pattern\":\"^[0-9.]+([eE][0-9]+|[numkKMGTPE]i?)?$\"}}}}";

/* The config with its defaults: string lists and the ceilings object. */
typedef struct {
  const char **resources;
  size_t resources_len;
  const char **require;
  size_t require_len;
  const sluice_json_t *max_limits; /* object or NULL */
} config_t;

static const char *DEFAULT_RESOURCES[] = {"cpu", "memory"};
static const char *DEFAULT_REQUIRE[] = {"requests", "limits"};

/* The strings of the array `value` (non-strings skipped), or the defaults
 * when the key is absent. The array of pointers is malloc'd (or NULL). */
static const char **strings(const sluice_json_t *value, const char **fallback, size_t fallback_len, size_t *len) {
  if (!value) {
    *len = fallback_len;
    return fallback;
  }
  size_t n = sluice_json_len(value);
  const char **out = calloc(n ? n : 1, sizeof *out);
  if (!out) abort();
  *len = 0;
  for (size_t i = 0; i < n; i++) {
    const char *s = sluice_json_string(sluice_json_at(value, i));
    if (s) out[(*len)++] = s;
  }
  return out;
}

void exports_policy_metadata(policy_plugin_metadata_t *ret) {
  /* Name, version and description come from sluice-plugin.yaml. */
  sluice_metadata(ret, SLUICE_PLUGIN_NAME, SLUICE_PLUGIN_VERSION, SLUICE_PLUGIN_KIND, SLUICE_PLUGIN_DESCRIPTION);
}

void exports_policy_config_schema(policy_string_t *ret) { *ret = sluice_string(SCHEMA); }

/* One error finding about `object` at `field`; takes over `field` and `message`. */
static void finding(sluice_diagnostics_t *out, const sluice_json_t *object, const policy_manifest_t *manifest,
                    const char *code, char *field, char *message) {
  sluice_plugin_types_diagnostic_t *d =
      sluice_diagnostic(out, SLUICE_PLUGIN_TYPES_SEVERITY_ERROR, code, "%s", message);
  sluice_diagnostic_resource(d, object);
  sluice_diagnostic_field(d, "%s", field);
  sluice_diagnostic_location(d, &manifest->origin);
  free(field);
  free(message);
}

static void check_container(sluice_diagnostics_t *out, const sluice_json_t *object, const policy_manifest_t *manifest,
                            const config_t *config, const char *at, const sluice_json_t *container) {
  const char *name = sluice_json_string_or(sluice_json_get(container, "name"), "?");
  const sluice_json_t *res = sluice_json_get(container, "resources");
  for (size_t s = 0; s < config->require_len; s++) {
    const char *section = config->require[s];
    const sluice_json_t *values = sluice_json_get(res, section);
    int singular = (int)strlen(section) - 1; /* "requests" → "request" */
    for (size_t r = 0; r < config->resources_len; r++) {
      const char *resource = config->resources[r];
      if (sluice_json_get(values, resource)) continue;
      char *field = sluice_format("%s.%s.%s", at, section, resource);
      char *message = sluice_format("container '%s' sets no %s %.*s; add %s", name, resource, singular, section, field);
      char *code = sluice_format("missing-%s", section);
      finding(out, object, manifest, code, field, message);
      free(code);
    }
  }
  const sluice_json_t *limits = sluice_json_get(res, "limits");
  for (size_t i = 0; i < sluice_json_len(config->max_limits); i++) {
    const sluice_json_member_t *ceiling = &config->max_limits->u.object.members[i];
    const sluice_json_t *value = sluice_json_get(limits, ceiling->key);
    double max, asked;
    if (!value || sluice_json_is(value, SLUICE_JSON_NULL) || !sluice_quantity_json(&ceiling->value, &max)) continue;
    if (!sluice_quantity_json(value, &asked)) asked = 0;
    if (asked <= max) continue;
    /* The limit as written: a string's text, or a number's JSON. */
    char *text = sluice_json_is(value, SLUICE_JSON_STRING) ? NULL : sluice_json_write(value, NULL);
    char *message = sluice_format("container '%s' asks for a %s limit of %s, above the ceiling of %s", name,
                                  ceiling->key, text ? text : sluice_json_string(value),
                                  sluice_json_string_or(&ceiling->value, "?"));
    free(text);
    finding(out, object, manifest, "limit-too-high", sluice_format("%s.limits.%s", at, ceiling->key), message);
  }
}

static void check(sluice_diagnostics_t *out, const sluice_json_t *object, const policy_manifest_t *manifest,
                  const config_t *config) {
  const char *base;
  const sluice_json_t *pod = sluice_pod_spec(object, &base);
  if (!pod) return;
  static const char *GROUPS[] = {"initContainers", "containers"};
  for (size_t g = 0; g < 2; g++) {
    const sluice_json_t *containers = sluice_json_get(pod, GROUPS[g]);
    if (!sluice_json_is(containers, SLUICE_JSON_ARRAY)) continue;
    for (size_t i = 0; i < sluice_json_len(containers); i++) {
      char *path = sluice_format("%s.%s[%zu].resources", base, GROUPS[g], i);
      check_container(out, object, manifest, config, path, sluice_json_at(containers, i));
      free(path);
    }
  }
}

bool exports_policy_evaluate(policy_evaluate_request_t *request, policy_evaluation_t *ret, policy_failure_t *err) {
  char why[160];
  bool ok = true;
  sluice_diagnostics_t findings = {0};
  sluice_json_t *config_json = sluice_parse(&request->config, why, sizeof why);
  if (!config_json) {
    *err = sluice_failure("invalid-config", "config is not JSON: %s", why);
    policy_evaluate_request_free(request);
    return false;
  }
  config_t config;
  config.resources = strings(sluice_json_get(config_json, "resources"), DEFAULT_RESOURCES, 2, &config.resources_len);
  config.require = strings(sluice_json_get(config_json, "require"), DEFAULT_REQUIRE, 2, &config.require_len);
  config.max_limits = sluice_json_get(config_json, "maxLimits");
  if (!sluice_json_is(config.max_limits, SLUICE_JSON_OBJECT)) config.max_limits = NULL;

  for (size_t i = 0; i < request->manifests.len; i++) {
    const policy_manifest_t *manifest = &request->manifests.ptr[i];
    sluice_json_t *object = sluice_parse(&manifest->json, why, sizeof why);
    if (!object) {
      sluice_diagnostics_free(&findings);
      *err = sluice_failure("invalid-manifest", "manifest is not JSON: %s", why);
      ok = false;
      break;
    }
    check(&findings, object, manifest, &config);
    sluice_json_free(object);
  }
  if (ok) {
    sluice_log(SLUICE_PLUGIN_LOG_LEVEL_DEBUG, "%zu manifests, %zu findings", request->manifests.len, findings.len);
    ret->verdict = findings.len ? SLUICE_PLUGIN_TYPES_VERDICT_DENY : SLUICE_PLUGIN_TYPES_VERDICT_ALLOW;
    ret->diagnostics = sluice_diagnostics_list(&findings);
    ret->mutated.is_some = false;
  }
  if (config.resources != DEFAULT_RESOURCES) free(config.resources);
  if (config.require != DEFAULT_REQUIRE) free(config.require);
  sluice_json_free(config_json);
  policy_evaluate_request_free(request);
  return ok;
}
