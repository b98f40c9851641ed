/*
 * {{name}}: a Sluice renderer plugin in C (its description, as its name and
 * version, comes from sluice-plugin.yaml through SLUICE_PLUGIN_* macros).
 *
 * This one reads `app.json` in the release path ({"name": "web",
 * "image": "nginx:1.27", "replicas": 2, "port": 80}) and renders a Deployment
 * and a Service; change render() to your format. The artifact is mounted
 * read-only at /artifact. Build with `sluice plugin build`, test with
 * `sluice plugin test` (cases in tests/).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"

/* Larger inputs are refused rather than read into memory. */
#define MAX_INPUT (1 << 20)

void exports_renderer_metadata(renderer_plugin_metadata_t *ret) {
  /* Name, version and description come from sluice-plugin.yaml. */
  sluice_metadata(ret, SLUICE_PLUGIN_NAME, SLUICE_PLUGIN_VERSION, SLUICE_PLUGIN_KIND, SLUICE_PLUGIN_DESCRIPTION);
}

void exports_renderer_config_schema(renderer_string_t *ret) {
  *ret = sluice_string(
      "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
      "\"additionalProperties\":false,\"properties\":{"
      "\"namespace\":{\"type\":\"string\",\"description\":\"Namespace of the rendered objects\"}}}");
}

/* Reads a whole file into a malloc'd buffer; NULL with errno set on failure. */
static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *data = malloc(MAX_INPUT + 1);
  size_t n = data ? fread(data, 1, MAX_INPUT + 1, f) : 0;
  int failed = !data || ferror(f);
  fclose(f);
  if (failed || n > MAX_INPUT) {
    free(data);
    errno = failed ? EIO : EFBIG;
    return NULL;
  }
  *len = n;
  return data;
}

static void labels(sluice_jw_t *w, const char *app) {
  sluice_jw_object_begin(w);
  sluice_jw_key(w, "app.kubernetes.io/name");
  sluice_jw_string(w, app);
  sluice_jw_object_end(w);
}

static void metadata(sluice_jw_t *w, const char *name, const char *ns) {
  sluice_jw_key(w, "metadata");
  sluice_jw_object_begin(w);
  sluice_jw_key(w, "name");
  sluice_jw_string(w, name);
  if (ns) {
    sluice_jw_key(w, "namespace");
    sluice_jw_string(w, ns);
  }
  sluice_jw_key(w, "labels");
  labels(w, name);
  sluice_jw_object_end(w);
}

static char *deployment(const char *name, const char *image, double replicas, double port, const char *ns,
                        size_t *len) {
  sluice_jw_t w = {0};
  sluice_jw_object_begin(&w);
  sluice_jw_key(&w, "apiVersion");
  sluice_jw_string(&w, "apps/v1");
  sluice_jw_key(&w, "kind");
  sluice_jw_string(&w, "Deployment");
  metadata(&w, name, ns);
  sluice_jw_key(&w, "spec");
  sluice_jw_object_begin(&w);
  sluice_jw_key(&w, "replicas");
  sluice_jw_number(&w, replicas);
  sluice_jw_key(&w, "selector");
  sluice_jw_object_begin(&w);
  sluice_jw_key(&w, "matchLabels");
  labels(&w, name);
  sluice_jw_object_end(&w);
  sluice_jw_key(&w, "template");
  sluice_jw_object_begin(&w);
  sluice_jw_key(&w, "metadata");
  sluice_jw_object_begin(&w);
  sluice_jw_key(&w, "labels");
  labels(&w, name);
  sluice_jw_object_end(&w);
  sluice_jw_key(&w, "spec");
  sluice_jw_object_begin(&w);
  sluice_jw_key(&w, "containers");
  sluice_jw_array_begin(&w);
  sluice_jw_object_begin(&w);
  sluice_jw_key(&w, "name");
  sluice_jw_string(&w, name);
  sluice_jw_key(&w, "image");
  sluice_jw_string(&w, image);
  sluice_jw_key(&w, "ports");
  sluice_jw_array_begin(&w);
  sluice_jw_object_begin(&w);
  sluice_jw_key(&w, "containerPort");
  sluice_jw_number(&w, port);
  sluice_jw_object_end(&w);
  sluice_jw_array_end(&w);
  sluice_jw_object_end(&w);
  sluice_jw_array_end(&w);
  sluice_jw_object_end(&w); /* pod spec */
  sluice_jw_object_end(&w); /* template */
  sluice_jw_object_end(&w); /* spec */
  sluice_jw_object_end(&w);
  return sluice_jw_finish(&w, len);
}

static char *service(const char *name, double port, const char *ns, size_t *len) {
  sluice_jw_t w = {0};
  sluice_jw_object_begin(&w);
  sluice_jw_key(&w, "apiVersion");
  sluice_jw_string(&w, "v1");
  sluice_jw_key(&w, "kind");
  sluice_jw_string(&w, "Service");
  metadata(&w, name, ns);
  sluice_jw_key(&w, "spec");
  sluice_jw_object_begin(&w);
  sluice_jw_key(&w, "selector");
  labels(&w, name);
  sluice_jw_key(&w, "ports");
  sluice_jw_array_begin(&w);
  sluice_jw_object_begin(&w);
  sluice_jw_key(&w, "port");
  sluice_jw_number(&w, port);
  sluice_jw_object_end(&w);
  sluice_jw_array_end(&w);
  sluice_jw_object_end(&w);
  sluice_jw_object_end(&w);
  return sluice_jw_finish(&w, len);
}

/* Renders app.json, or fills `err` and returns false. */
static bool render(const char *dir, const char *ns, sluice_manifests_t *out, sluice_plugin_types_failure_t *err) {
  /* Paths in diagnostics are relative to the artifact root. */
  char *file = strcmp(dir, ".") == 0 || dir[0] == '\0' ? sluice_format("app.json") : sluice_format("%s/app.json", dir);
  char *full = sluice_format("/artifact/%s", file);
  size_t len = 0;
  char *text = read_file(full, &len);
  free(full);
  bool ok = false;
  char why[160];
  sluice_json_t *app = NULL;
  if (!text) {
    *err = sluice_failure("missing-input", "cannot read %s: %s", file, strerror(errno));
  } else if (!(app = sluice_json_parse(text, len, why, sizeof why))) {
    *err = sluice_failure("invalid-input", "%s is not JSON: %s", file, why);
  } else {
    const char *name = sluice_json_string(sluice_json_get(app, "name"));
    const char *image = sluice_json_string(sluice_json_get(app, "image"));
    const sluice_json_t *replicas = sluice_json_get(app, "replicas");
    const sluice_json_t *port = sluice_json_get(app, "port");
    if (!name || !image) {
      *err = sluice_failure("invalid-input", "%s needs \"name\" and \"image\" (strings)", file);
    } else if ((replicas && !sluice_json_is(replicas, SLUICE_JSON_NUMBER)) ||
               (port && !sluice_json_is(port, SLUICE_JSON_NUMBER))) {
      *err = sluice_failure("invalid-input", "%s: \"replicas\" and \"port\" are numbers", file);
    } else {
      double r = replicas ? replicas->u.number.value : 1;
      double p = port ? port->u.number.value : 80;
      char *json = deployment(name, image, r, p, ns, &len);
      sluice_manifests_push(out, json, len, file, 1);
      json = service(name, p, ns, &len);
      sluice_manifests_push(out, json, len, file, 1);
      ok = true;
    }
  }
  sluice_json_free(app);
  free(text);
  free(file);
  return ok;
}

bool exports_renderer_render(renderer_render_request_t *request, renderer_render_result_t *ret,
                             renderer_failure_t *err) {
  char *dir = sluice_cstring(&request->path);
  char why[160];
  sluice_json_t *config = sluice_parse(&request->config, why, sizeof why);
  const char *ns = sluice_json_string(sluice_json_get(config, "namespace"));
  sluice_manifests_t manifests = {0};
  bool ok = render(dir, ns, &manifests, err);
  if (ok) {
    ret->manifests = sluice_manifests_list(&manifests);
    ret->diagnostics.ptr = NULL;
    ret->diagnostics.len = 0;
  } else {
    sluice_manifests_free(&manifests);
  }
  sluice_json_free(config);
  free(dir);
  /* The request belongs to the plugin (see sluice.h): free it. */
  renderer_render_request_free(request);
  return ok;
}
