// require-resources: a Sluice policy plugin written in JavaScript.
//
// Every container of every workload must declare resource requests and limits
// (CPU and memory by default), and limits may not exceed configured ceilings.
// The same policy as require-resources-py (codes, messages, field paths,
// verdicts); built with `sluice plugin build` (componentize-js, world `policy`).

import {
  containers,
  error,
  guard,
  log,
  manifests,
  parseConfig,
  podSpec,
  quantity,
  resourceRef,
} from '../../../plugins/sdk-js/index.js';

const SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'require-resources policy',
  type: 'object',
  additionalProperties: false,
  properties: {
    resources: {
      description: 'Resource names every container must set (default cpu and memory)',
      type: 'array',
      items: { type: 'string', minLength: 1 },
    },
    require: {
      description: 'Which of requests and limits must be set (default both)',
      type: 'array',
      items: { enum: ['requests', 'limits'] },
    },
    maxLimits: {
      description: 'Ceilings for limits, as Kubernetes quantities, e.g. {"memory": "2Gi", "cpu": "4"}',
      type: 'object',
      additionalProperties: { type: 'string', pattern: '^[0-9.]+([eE][0-9]+|[numkKMGTPE]i?)?$' },
    },
  },
};

export function metadata() {
  return {
    name: 'require-resources',
    version: '0.1.0',
    kind: 'policy',
    description: 'Containers must set resource requests and limits, within ceilings (JavaScript)',
  };
}

export function configSchema() {
  return JSON.stringify(SCHEMA);
}

export const evaluate = guard((request) => {
  const config = parseConfig(request.config, {
    resources: ['cpu', 'memory'],
    require: ['requests', 'limits'],
    maxLimits: {},
  });
  const ceilings = Object.entries(config.maxLimits).map(([name, text]) => [name, text, quantity(text)]);
  const findings = [];
  for (const { object, origin } of manifests(request)) {
    findings.push(...check(object, origin, config.resources, config.require, ceilings));
  }
  log.debug(`${request.manifests.length} manifests, ${findings.length} findings`);
  return { verdict: findings.length ? 'deny' : 'allow', diagnostics: findings, mutated: undefined };
});

function check(obj, origin, names, required, ceilings) {
  if (!podSpec(obj)) return [];
  const resource = resourceRef(obj);
  const out = [];
  for (const { container, path } of containers(obj)) {
    const at = `${path}.resources`;
    const name = container.name ?? '?';
    const res = asObject(container.resources);
    for (const section of required) {
      const set = asObject(res[section]);
      for (const r of names) {
        if (!Object.hasOwn(set, r)) {
          out.push(error(`container '${name}' sets no ${r} ${section.slice(0, -1)}; add ${at}.${section}.${r}`, {
            resource, location: origin, fieldPath: `${at}.${section}.${r}`, code: `missing-${section}`,
          }));
        }
      }
    }
    const limits = asObject(res.limits);
    for (const [r, text, ceiling] of ceilings) {
      const value = limits[r];
      if (value !== undefined && value !== null && ceiling !== undefined && (quantity(value) ?? 0) > ceiling) {
        out.push(error(`container '${name}' asks for a ${r} limit of ${value}, above the ceiling of ${text}`, {
          resource, location: origin, fieldPath: `${at}.limits.${r}`, code: 'limit-too-high',
        }));
      }
    }
  }
  return out;
}

function asObject(value) {
  return typeof value === 'object' && value !== null ? value : {};
}
