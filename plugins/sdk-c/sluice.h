/*
 * The Sluice C SDK: helpers over the bindings `sluice plugin build` generates
 * for the plugin's world (build/<world>.h, reached through build/sluice_world.h),
 * and the project's sluice-plugin.yaml as macros (build/sluice_project.h:
 * SLUICE_PLUGIN_NAME, _VERSION, _KIND, _DESCRIPTION) for the metadata export.
 *
 * Ownership, as the generated bindings define it:
 * - An export's arguments belong to the plugin: free them before returning
 *   (policy_evaluate_request_free(request), renderer_render_request_free(request)).
 * - Whatever an export returns is freed by the bindings after the host has
 *   copied it (the cabi_post_* functions call free()), so every string and
 *   list in a result must be malloc'd: build them with the functions below,
 *   never point them at literals or stack memory.
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice_json.h"
#include "sluice_k8s.h"
#include "sluice_project.h"
#include "sluice_world.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- strings ---------------------------------------------------------- */

/* A malloc'd copy of the C string `s` (NULL gives ""). */
sluice_string_t sluice_string(const char *s);
/* A malloc'd copy of `len` bytes at `s`. */
sluice_string_t sluice_string_n(const char *s, size_t len);
/* printf into a new malloc'd string. */
sluice_string_t sluice_string_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Takes over a malloc'd buffer (for example from sluice_jw_finish). */
sluice_string_t sluice_string_take(char *s, size_t len);
/* printf into a new malloc'd C string. */
char *sluice_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A malloc'd NUL-terminated copy of a bindings string. */
char *sluice_cstring(const sluice_string_t *s);
/* Some(copy of s), or none when `s` is NULL. */
sluice_option_string_t sluice_option_string(const char *s);

/* Parses a bindings string as JSON; NULL with the reason in `err` on failure. */
sluice_json_t *sluice_parse(const sluice_string_t *s, char *err, size_t err_len);

/* ---- logging ---------------------------------------------------------- */

/* One line into the host's log (capped per call by the host). */
void sluice_log(sluice_plugin_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- metadata --------------------------------------------------------- */

/* Fills the answer of the `metadata` export with malloc'd copies; usually
 * sluice_metadata(ret, SLUICE_PLUGIN_NAME, SLUICE_PLUGIN_VERSION,
 *                 SLUICE_PLUGIN_KIND, SLUICE_PLUGIN_DESCRIPTION). */
void sluice_metadata(sluice_plugin_types_plugin_metadata_t *ret, const char *name, const char *version,
                     sluice_plugin_types_plugin_kind_t kind, const char *description);

/* ---- diagnostics ------------------------------------------------------ */

/* A growing list of diagnostics; zero-initialise it. */
typedef struct {
  sluice_plugin_types_diagnostic_t *ptr;
  size_t len;
  size_t cap;
} sluice_diagnostics_t;

/*
 * Appends a diagnostic with the formatted message and the code (NULL for
 * none) and returns it for the setters below. The pointer is valid until
 * the next append.
 */
sluice_plugin_types_diagnostic_t *sluice_diagnostic(sluice_diagnostics_t *list, sluice_plugin_types_severity_t severity,
                                                    const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The field path inside the object (`spec.template.spec.containers[0].image`). */
void sluice_diagnostic_field(sluice_plugin_types_diagnostic_t *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The object concerned: apiVersion, kind, metadata.namespace and metadata.name of `object`. */
void sluice_diagnostic_resource(sluice_plugin_types_diagnostic_t *d, const sluice_json_t *object);
/* The place in a file (copied), as a manifest's `origin` gives it. */
void sluice_diagnostic_location(sluice_plugin_types_diagnostic_t *d,
                                const sluice_plugin_types_option_source_location_t *location);
/* True when the list holds a diagnostic of severity error. */
bool sluice_diagnostics_has_errors(const sluice_diagnostics_t *list);
/* Hands the list over as a result's diagnostics (the list is empty afterwards). */
sluice_list_diagnostic_t sluice_diagnostics_list(sluice_diagnostics_t *list);
/* Hands the list over as a call's failure (the list is empty afterwards). */
sluice_plugin_types_failure_t sluice_diagnostics_failure(sluice_diagnostics_t *list);
/* Frees a list that was not handed over. */
void sluice_diagnostics_free(sluice_diagnostics_t *list);

/* A failure of one error diagnostic, for the common case of giving up. */
sluice_plugin_types_failure_t sluice_failure(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- manifests -------------------------------------------------------- */

/* A growing list of manifests; zero-initialise it. */
typedef struct {
  sluice_plugin_types_manifest_t *ptr;
  size_t len;
  size_t cap;
} sluice_manifests_t;

/*
 * Appends a manifest whose JSON text is the malloc'd `json` (taken over) of
 * `len` bytes; `file` (copied, NULL for none) and `line` say where it was
 * written.
 */
void sluice_manifests_push(sluice_manifests_t *list, char *json, size_t len, const char *file, uint32_t line);
/* Appends a manifest serialised from a parsed or built JSON value. */
void sluice_manifests_push_json(sluice_manifests_t *list, const sluice_json_t *value, const char *file, uint32_t line);
/* Hands the list over as a result's manifests (the list is empty afterwards). */
sluice_list_manifest_t sluice_manifests_list(sluice_manifests_t *list);
/* Frees a list that was not handed over. */
void sluice_manifests_free(sluice_manifests_t *list);

#ifdef __cplusplus
}
#endif
#endif
