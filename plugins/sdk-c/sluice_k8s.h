/*
 * sluice_k8s: Kubernetes helpers for Sluice plugins in C, on parsed JSON
 * (no dependency on the generated bindings; builds natively too).
 */
#ifndef SLUICE_K8S_H
#define SLUICE_K8S_H

#include <stdbool.h>

#include "sluice_json.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The field path of the pod spec inside an object of `kind` ("spec" for a
 * Pod, "spec.template.spec" for Deployment, StatefulSet, DaemonSet,
 * ReplicaSet and Job, "spec.jobTemplate.spec.template.spec" for CronJob), or
 * NULL for kinds that hold no pod.
 */
const char *sluice_pod_spec_path(const char *kind);

/*
 * The pod spec of a workload object, or NULL when its kind holds no pod or
 * the spec is missing or not an object. `path` (may be NULL) receives
 * sluice_pod_spec_path(kind), so diagnostics can name fields as
 * "<path>.containers[0].resources".
 */
const sluice_json_t *sluice_pod_spec(const sluice_json_t *object, const char **path);

/*
 * A Kubernetes quantity ("500m", "2Gi", "1.5", "1e3") as a number: a decimal
 * made of digits and dots, then an exponent (e/E and digits) or one of the
 * suffixes n u m k M G T P E Ki Mi Gi Ti Pi Ei. Leading and trailing
 * whitespace is ignored. Returns false for anything else.
 */
bool sluice_quantity(const char *text, double *value);

/* A quantity given as a JSON string, or a non-negative JSON number (as in
 * `limits: {cpu: 2}`). */
bool sluice_quantity_json(const sluice_json_t *value, double *out);

#ifdef __cplusplus
}
#endif
#endif
