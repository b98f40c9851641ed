// Sluice plugin SDK for JavaScript (componentize-js / StarlingMonkey).
//
// How the WIT maps to JavaScript here: records are plain objects with
// camelCase fields (`fieldPath`, `apiVersion`), enums are their names as
// strings ('error', 'deny', 'policy'), `option<T>` is the value or
// `undefined`, and an exported `result<T, failure>` is the returned value
// (ok) or a thrown array of diagnostics (err). A thrown `Error` would reach
// the host as an empty failure, so wrap every export in `guard`, which turns
// it into a diagnostic that says what went wrong.
//
// Pure JavaScript with no imports beyond the `log` capability, so it works in
// every world; file access for renderers and sources is in `files.js`.

import { log as hostLog } from 'sluice:plugin/log@0.1.0';

/** Log lines in the host's log, attributed to this plugin. Never log secrets. */
export const log = {
  trace: (message) => hostLog('trace', String(message)),
  debug: (message) => hostLog('debug', String(message)),
  info: (message) => hostLog('info', String(message)),
  warn: (message) => hostLog('warn', String(message)),
  error: (message) => hostLog('error', String(message)),
};

/**
 * A diagnostic record. `options` may name the object (`resource`, see
 * `resourceRef`), the field (`fieldPath`: `spec.template.spec.containers[0].image`),
 * the file (`location`: a manifest's `origin`) and a stable `code`.
 */
export function diagnostic(severity, message, options = {}) {
  const { resource, fieldPath, location, code } = options;
  return {
    severity,
    message: String(message),
    resource: resource ?? undefined,
    fieldPath: fieldPath ?? undefined,
    location: location ?? undefined,
    code: code ?? undefined,
  };
}

/** An error: stops the stage (a denial, a render error). */
export const error = (message, options) => diagnostic('error', message, options);
/** A warning: reported, never stops anything. */
export const warning = (message, options) => diagnostic('warning', message, options);
/** A note. */
export const info = (message, options) => diagnostic('info', message, options);

/**
 * Ends the call with a failure (the `err` of the export's result). Takes
 * diagnostics or plain messages (which become errors).
 */
export function fail(...diagnostics) {
  throw diagnostics.map((d) => (typeof d === 'string' ? error(d) : d));
}

/**
 * Wraps an export so that anything thrown other than a failure (a bug, a
 * `TypeError` on unexpected input) still reaches the host as a diagnostic
 * naming the error, instead of an empty failure.
 */
export function guard(fn) {
  return (...args) => {
    try {
      return fn(...args);
    } catch (e) {
      if (Array.isArray(e)) throw e;
      const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      throw [error(`plugin error: ${what}`, { code: 'plugin-error' })];
    }
  };
}

/** The verdict for a list of findings: deny on an error, warn on a warning. */
export function verdictOf(diagnostics) {
  if (diagnostics.some((d) => d.severity === 'error')) return 'deny';
  if (diagnostics.some((d) => d.severity === 'warning')) return 'warn';
  return 'allow';
}

/** The `resource-ref` naming a Kubernetes object (empty strings when unset). */
export function resourceRef(obj) {
  const meta = (obj && typeof obj.metadata === 'object' && obj.metadata) || {};
  return {
    apiVersion: str(obj?.apiVersion),
    kind: str(obj?.kind),
    namespace: str(meta.namespace),
    name: str(meta.name),
  };
}

function str(value) {
  return typeof value === 'string' ? value : '';
}

/** Where each workload kind keeps its pod spec. */
export const POD_SPEC_PATHS = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

/**
 * The pod spec of a workload as `{ spec, path }` (`path` is the field-path
 * prefix, `spec.template.spec`), or `undefined` when the object is not a
 * workload. A workload without a pod spec gives `{}`.
 */
export function podSpec(obj) {
  const keys = POD_SPEC_PATHS[obj?.kind];
  if (!keys) return undefined;
  const spec = dig(obj, keys);
  return { spec: isObject(spec) ? spec : {}, path: keys.join('.') };
}

/**
 * The containers of a workload, init containers first, each as
 * `{ container, group, index, path }` with `path` the container's field path
 * (`spec.template.spec.containers[0]`); empty when the object is not a workload.
 */
export function containers(obj) {
  const pod = podSpec(obj);
  if (!pod) return [];
  const out = [];
  for (const group of ['initContainers', 'containers']) {
    const list = Array.isArray(pod.spec[group]) ? pod.spec[group] : [];
    list.forEach((container, index) => {
      out.push({
        container: isObject(container) ? container : {},
        group,
        index,
        path: `${pod.path}.${group}[${index}]`,
      });
    });
  }
  return out;
}

/** `obj[k0][k1]…`, or `undefined` as soon as a step is not an object. */
export function dig(obj, keys) {
  let at = obj;
  for (const key of keys) {
    if (!isObject(at)) return undefined;
    at = at[key];
  }
  return at;
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The request's `config` (JSON text) as an object over `defaults`. The host
 * has validated it against `configSchema`, so this only guards against a
 * schema that lets more through than the code expects: text that is not a
 * JSON object fails the call with a message saying where to fix it.
 */
export function parseConfig(text, defaults = {}) {
  let config;
  try {
    config = text === undefined || text === '' ? {} : JSON.parse(text);
  } catch (e) {
    fail(error(`config is not valid JSON (${e.message}); fix the plugin's config in the object that names this plugin`, { code: 'invalid-config' }));
  }
  if (config === null) config = {};
  if (!isObject(config)) {
    fail(error(`config must be a JSON object, not ${Array.isArray(config) ? 'an array' : typeof config}; fix the plugin's config in the object that names this plugin`, { code: 'invalid-config' }));
  }
  return { ...defaults, ...config };
}

/**
 * The request's manifests parsed: `{ object, origin, ref, index }` each. A
 * manifest that is not JSON fails the call with code `invalid-manifest`.
 */
export function manifests(request) {
  return (request.manifests ?? []).map((m, index) => {
    let object;
    try {
      object = JSON.parse(m.json);
    } catch (e) {
      fail(error(`manifest is not JSON: ${e.message}`, { location: m.origin, code: 'invalid-manifest' }));
    }
    return { object, origin: m.origin, ref: resourceRef(object), index };
  });
}

/** A `manifest` record for an object, with its `origin` when known. */
export function manifest(object, origin) {
  return { json: JSON.stringify(object), origin: origin ?? undefined };
}

const SUFFIX = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1,
  k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};
const QUANTITY = /^([0-9.]+)(?:[eE]([0-9]+)|([numkKMGTPE]i?))?$/;

/** A Kubernetes quantity (`500m`, `2Gi`, `1e3`, 4) as a number, or `undefined`. */
export function quantity(text) {
  const m = QUANTITY.exec(String(text).trim());
  if (!m) return undefined;
  const value = Number(m[1]);
  if (Number.isNaN(value)) return undefined;
  if (m[2] !== undefined) return value * 10 ** Number(m[2]);
  const factor = SUFFIX[m[3] ?? ''];
  return factor === undefined ? undefined : value * factor;
}
