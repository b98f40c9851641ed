/*
 * {{name}}: a Sluice policy plugin in C (its description, as its name and
 * version, comes from sluice-plugin.yaml through SLUICE_PLUGIN_* macros).
 *
 * This one denies container images without a pinned version (no tag, or
 * `latest`) unless config `allowLatest` is true; change check() to your policy. Build with `sluice plugin build`, test with
 * `sluice plugin test` (cases in tests/). The SDK is in sluice/sdk-c.
 */
#include <string.h>

#include "sluice.h"

void exports_policy_metadata(policy_plugin_metadata_t *ret) {
  /* Name, version and description come from sluice-plugin.yaml. */
  sluice_metadata(ret, SLUICE_PLUGIN_NAME, SLUICE_PLUGIN_VERSION, SLUICE_PLUGIN_KIND, SLUICE_PLUGIN_DESCRIPTION);
}

/* JSON Schema (draft 2020-12) of the config; the host validates it before a call. */
void exports_policy_config_schema(policy_string_t *ret) {
  *ret = sluice_string(
      "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
      "\"additionalProperties\":false,\"properties\":{"
      "\"allowLatest\":{\"type\":\"boolean\",\"description\":\"Accept images without a pinned version\"}}}");
}

/* Whether `image` names a version: a digest, or a tag other than `latest`
 * (a colon before the last slash belongs to a registry port). */
static bool pinned(const char *image) {
  if (strchr(image, '@')) return true;
  const char *slash = strrchr(image, '/');
  const char *colon = strrchr(slash ? slash : image, ':');
  return colon && strcmp(colon + 1, "latest") != 0;
}

static void check(sluice_diagnostics_t *out, const sluice_json_t *object, const policy_manifest_t *manifest) {
  const char *base;
  const sluice_json_t *pod = sluice_pod_spec(object, &base);
  static const char *GROUPS[] = {"initContainers", "containers"};
  for (size_t g = 0; pod && g < 2; g++) {
    const sluice_json_t *containers = sluice_json_get(pod, GROUPS[g]);
    for (size_t i = 0; i < sluice_json_len(containers); i++) {
      const sluice_json_t *container = sluice_json_at(containers, i);
      const char *image = sluice_json_string(sluice_json_get(container, "image"));
      if (!image || pinned(image)) continue;
      sluice_plugin_types_diagnostic_t *d = sluice_diagnostic(
          out, SLUICE_PLUGIN_TYPES_SEVERITY_ERROR, "unpinned-image",
          "container '%s' runs image '%s' without a pinned version; use a tag other than latest or a digest",
          sluice_json_string_or(sluice_json_get(container, "name"), "?"), image);
      sluice_diagnostic_resource(d, object);
      sluice_diagnostic_field(d, "%s.%s[%zu].image", base, GROUPS[g], i);
      sluice_diagnostic_location(d, &manifest->origin);
    }
  }
}

bool exports_policy_evaluate(policy_evaluate_request_t *request, policy_evaluation_t *ret, policy_failure_t *err) {
  char why[160];
  sluice_json_t *config = sluice_parse(&request->config, why, sizeof why);
  bool allow_latest = config && sluice_json_is(sluice_json_get(config, "allowLatest"), SLUICE_JSON_BOOL) &&
                      sluice_json_get(config, "allowLatest")->u.boolean;
  sluice_json_free(config);

  sluice_diagnostics_t findings = {0};
  for (size_t i = 0; i < request->manifests.len && !allow_latest; i++) {
    const policy_manifest_t *manifest = &request->manifests.ptr[i];
    sluice_json_t *object = sluice_parse(&manifest->json, why, sizeof why);
    if (!object) {
      sluice_diagnostics_free(&findings);
      *err = sluice_failure("invalid-manifest", "manifest %zu is not JSON: %s", i, why);
      policy_evaluate_request_free(request);
      return false;
    }
    check(&findings, object, manifest);
    sluice_json_free(object);
  }
  sluice_log(SLUICE_PLUGIN_LOG_LEVEL_DEBUG, "%zu manifests, %zu findings", request->manifests.len, findings.len);
  ret->verdict = findings.len ? SLUICE_PLUGIN_TYPES_VERDICT_DENY : SLUICE_PLUGIN_TYPES_VERDICT_ALLOW;
  ret->diagnostics = sluice_diagnostics_list(&findings);
  ret->mutated.is_some = false;
  /* The request belongs to the plugin (see sluice.h): free it. */
  policy_evaluate_request_free(request);
  return true;
}
