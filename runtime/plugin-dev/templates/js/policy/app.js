// {{name}}: {{description}}
//
// A Sluice policy: every container image names a version (a tag other than
// `latest`, or a digest), and when the config lists `registries`, comes from
// one of them. Build with `sluice plugin build`, test with `sluice plugin test`.

import { containers, error, guard, log, manifests, parseConfig, resourceRef, verdictOf } from './sluice/sdk-js/index.js';

export function metadata() {
  return { name: '{{name}}', version: '0.1.0', kind: 'policy', description: '{{description}}' };
}

export function configSchema() {
  return JSON.stringify({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    additionalProperties: false,
    properties: {
      registries: {
        description: 'Allowed image prefixes (`ghcr.io/acme`, `docker.io/library`); empty allows any',
        type: 'array',
        items: { type: 'string', minLength: 1 },
      },
    },
  });
}

// `result<evaluation, failure>`: return the evaluation; `guard` turns anything
// thrown into a failure the host can show.
export const evaluate = guard((request) => {
  const config = parseConfig(request.config, { registries: [] });
  const findings = [];
  for (const { object, origin } of manifests(request)) {
    for (const { container, path } of containers(object)) {
      findings.push(...checkImage(container, `${path}.image`, { resource: resourceRef(object), location: origin }, config.registries));
    }
  }
  log.debug(`${request.manifests.length} manifests, ${findings.length} findings`);
  return { verdict: verdictOf(findings), diagnostics: findings, mutated: undefined };
});

function checkImage(container, fieldPath, where, registries) {
  const name = container.name ?? '?';
  const image = container.image;
  if (typeof image !== 'string' || image === '') {
    return [error(`container '${name}' has no image; set ${fieldPath}`, { ...where, fieldPath, code: 'missing-image' })];
  }
  const ref = parseImage(image);
  const out = [];
  if (!ref.digest && (ref.tag === undefined || ref.tag === 'latest')) {
    out.push(error(`container '${name}' runs ${image} without a version; pin a tag other than latest or a digest at ${fieldPath}`, { ...where, fieldPath, code: 'latest-tag' }));
  }
  if (registries.length && !registries.some((prefix) => ref.repository === prefix || ref.repository.startsWith(`${prefix.replace(/\/+$/, '')}/`))) {
    out.push(error(`container '${name}' runs ${ref.repository}, which is not from an allowed registry (${registries.join(', ')})`, { ...where, fieldPath, code: 'untrusted-registry' }));
  }
  return out;
}

// `nginx:1.27` → docker.io/library/nginx, tag 1.27; `ghcr.io/a/b@sha256:…` → digest.
function parseImage(image) {
  let rest = image;
  let digest;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const parts = rest.split('/');
  const hasRegistry = parts.length > 1 && (parts[0].includes('.') || parts[0].includes(':') || parts[0] === 'localhost');
  if (!hasRegistry) {
    if (parts.length === 1) parts.unshift('library');
    parts.unshift('docker.io');
  }
  return { repository: parts.join('/'), tag, digest };
}
