// {{name}}: {{description}}
//
// A Sluice renderer: `app.json` in the release path describes one web
// application ({"name", "image", "replicas", "port", "env"}); the renderer
// turns it into a Deployment, and a Service when it has a port. The config
// sets the namespace and extra labels. Build with `sluice plugin build`, test
// with `sluice plugin test`.

import { fail, error, guard, manifest, parseConfig } from './sluice/sdk-js/index.js';
import { exists, join, readText } from './sluice/sdk-js/files.js';

export function metadata() {
  return { name: '{{name}}', version: '0.1.0', kind: 'renderer', description: '{{description}}' };
}

export function configSchema() {
  return JSON.stringify({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    additionalProperties: false,
    properties: {
      namespace: { description: 'Namespace of every object (default: none set)', type: 'string' },
      labels: { description: 'Labels added to every object', type: 'object', additionalProperties: { type: 'string' } },
    },
  });
}

// `result<render-result, failure>`: return the result, or `fail(...)` with
// diagnostics naming the file and field to fix.
export const render = guard((request) => {
  const config = parseConfig(request.config, { labels: {} });
  const file = join(request.path, 'app.json');
  if (!exists(file)) {
    fail(error(`${file} not found; describe the app there as {"name": "web", "image": "nginx:1.27", "port": 80}`, { code: 'missing-app' }));
  }
  const location = { file, line: 1, column: 1 };
  let app;
  try {
    app = JSON.parse(readText(file));
  } catch (e) {
    if (Array.isArray(e)) throw e;
    fail(error(`${file} is not valid JSON: ${e.message}`, { location, code: 'invalid-app' }));
  }
  for (const field of ['name', 'image']) {
    if (typeof app?.[field] !== 'string' || app[field] === '') {
      fail(error(`${file}: \`${field}\` is required (a non-empty string)`, { location, fieldPath: field, code: 'invalid-app' }));
    }
  }

  const selector = { 'app.kubernetes.io/name': app.name };
  const metadata = {
    name: app.name,
    ...(config.namespace ? { namespace: config.namespace } : {}),
    labels: { ...config.labels, ...selector },
  };
  const container = { name: app.name, image: app.image };
  if (app.port) container.ports = [{ containerPort: app.port }];
  if (app.env) container.env = Object.entries(app.env).map(([name, value]) => ({ name, value: String(value) }));
  const objects = [{
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata,
    spec: {
      replicas: app.replicas ?? 1,
      selector: { matchLabels: selector },
      template: { metadata: { labels: metadata.labels }, spec: { containers: [container] } },
    },
  }];
  if (app.port) {
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata,
      spec: { selector, ports: [{ port: app.port, targetPort: app.port }] },
    });
  }
  return { manifests: objects.map((o) => manifest(o, location)), diagnostics: [] };
});
