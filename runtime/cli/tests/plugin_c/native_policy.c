/*
 * Drives a C policy plugin natively through its generated export wrappers
 * and cabi_post_* functions, as the host does (arguments allocated with
 * cabi_realloc and handed over, results freed by the post-return), under
 * AddressSanitizer, LeakSanitizer and UBSan: every allocation the plugin
 * and the SDK make must be freed exactly once by whoever the bindings say
 * owns it. Built by runtime/cli/tests/plugin_c.rs with the project's
 * sources, its SDK and its generated bindings (build/policy.c); the imports
 * other than log are never called, so section garbage collection drops them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

void *cabi_realloc(void *ptr, size_t old_size, size_t align, size_t new_size);
uint8_t *__wasm_export_exports_policy_metadata(void);
void __wasm_export_exports_policy_metadata_post_return(uint8_t *);
uint8_t *__wasm_export_exports_policy_config_schema(void);
void __wasm_export_exports_policy_config_schema_post_return(uint8_t *);
uint8_t *__wasm_export_exports_policy_evaluate(uint8_t *, size_t, uint8_t *, size_t, uint8_t *, size_t, uint8_t *,
                                               size_t);
void __wasm_export_exports_policy_evaluate_post_return(uint8_t *);

static int logged = 0;

void __wasm_import_sluice_plugin_log_log(int32_t level, uint8_t *ptr, size_t len) {
  (void)level;
  (void)ptr;
  (void)len;
  logged++;
}

/* A string as the host lowers it: memory from cabi_realloc, owned by the guest. */
static policy_string_t lower(const char *s) {
  policy_string_t out;
  out.len = strlen(s);
  out.ptr = cabi_realloc(NULL, 0, 1, out.len);
  memcpy(out.ptr, s, out.len);
  return out;
}

static int failures = 0;

static void expect(int cond, const char *what) {
  if (!cond) {
    fprintf(stderr, "failed: %s\n", what);
    failures++;
  }
}

/* Evaluates `count` manifests (with origins) under `config`; returns the
 * result tag (0 ok, 1 err) and the number of diagnostics. */
static int evaluate(const char **manifests, size_t count, const char *config, size_t *diagnostics, int *verdict,
                    char *first_message, size_t first_len) {
  policy_manifest_t *list = cabi_realloc(NULL, 0, _Alignof(policy_manifest_t), count * sizeof *list);
  for (size_t i = 0; i < count; i++) {
    memset(&list[i], 0, sizeof list[i]);
    list[i].json = lower(manifests[i]);
    list[i].origin.is_some = true;
    list[i].origin.val.file = lower("app/web.yaml");
    list[i].origin.val.line = (uint32_t)(i + 1);
  }
  policy_string_t url = lower("file://./app"), revision = lower("sha256:0"), cfg = lower(config);
  uint8_t *ret = __wasm_export_exports_policy_evaluate(url.ptr, url.len, revision.ptr, revision.len,
                                                       (uint8_t *)list, count, cfg.ptr, cfg.len);
  int tag = *(int8_t *)ret;
  policy_diagnostic_t *diags;
  if (tag == 0) {
    *verdict = *(int8_t *)(ret + sizeof(void *));
    diags = *(policy_diagnostic_t **)(ret + 2 * sizeof(void *));
    *diagnostics = *(size_t *)(ret + 3 * sizeof(void *));
  } else {
    diags = *(policy_diagnostic_t **)(ret + sizeof(void *));
    *diagnostics = *(size_t *)(ret + 2 * sizeof(void *));
  }
  first_message[0] = '\0';
  if (*diagnostics) {
    size_t n = diags[0].message.len < first_len - 1 ? diags[0].message.len : first_len - 1;
    memcpy(first_message, diags[0].message.ptr, n);
    first_message[n] = '\0';
  }
  __wasm_export_exports_policy_evaluate_post_return(ret);
  return tag;
}

int main(void) {
  uint8_t *meta = __wasm_export_exports_policy_metadata();
  __wasm_export_exports_policy_metadata_post_return(meta);
  uint8_t *schema = __wasm_export_exports_policy_config_schema();
  __wasm_export_exports_policy_config_schema_post_return(schema);

  const char *manifests[] = {
      "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},"
      "\"spec\":{\"template\":{\"spec\":{\"initContainers\":[{\"name\":\"init\"}],\"containers\":[{\"name\":\"web\","
      "\"resources\":{\"requests\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},\"limits\":{\"cpu\":2,\"memory\":\"3Gi\"}}}]}}}}",
      "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\"},\"spec\":{}}",
      "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"ok\"},\"spec\":{\"containers\":[{\"name\":\"ok\","
      "\"resources\":{\"requests\":{\"cpu\":\"1m\",\"memory\":\"1Mi\"},\"limits\":{\"cpu\":\"1m\",\"memory\":\"1Mi\"}}}]}}",
  };
  size_t n;
  int verdict = -1;
  char message[256];

  int tag = evaluate(manifests, 3, "{\"maxLimits\":{\"memory\":\"2Gi\",\"cpu\":\"1\"}}", &n, &verdict, message,
                     sizeof message);
  /* init: four missing fields; web: two ceilings. */
  expect(tag == 0 && verdict == SLUICE_PLUGIN_TYPES_VERDICT_DENY && n == 6, "deny with six findings");
  expect(strstr(message, "container 'init' sets no cpu request") != NULL, message);

  tag = evaluate(manifests + 2, 1, "{}", &n, &verdict, message, sizeof message);
  expect(tag == 0 && verdict == SLUICE_PLUGIN_TYPES_VERDICT_ALLOW && n == 0, "allow without findings");

  tag = evaluate(manifests, 0, "{\"resources\":[\"memory\"],\"require\":[\"limits\"]}", &n, &verdict, message,
                 sizeof message);
  expect(tag == 0 && n == 0, "no manifests, no findings");

  const char *broken[] = {manifests[1], "{\"kind\": \"Pod\", "};
  tag = evaluate(broken, 2, "{}", &n, &verdict, message, sizeof message);
  expect(tag == 1 && n == 1 && strstr(message, "manifest is not JSON") != NULL, "a broken manifest fails the call");

  expect(logged == 3, "one log line per successful evaluation");
  if (failures) return 1;
  printf("native policy: all checks passed\n");
  return 0;
}
