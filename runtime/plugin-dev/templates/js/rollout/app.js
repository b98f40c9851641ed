// {{name}}: {{description}}
//
// A Sluice rollout strategy: analyses the candidate `iterations` times,
// `intervalSeconds` apart, then promotes it once the promotion gates pass;
// rolls back after `threshold` failed analyses. The host moves traffic, runs
// the analyses, evaluates the gates and keeps the state; `step` only decides
// what happens next from the state it is given. Build with
// `sluice plugin build`, test with `sluice plugin test` (tests/steps.yaml).

import { guard, info, parseConfig } from './sluice/sdk-js/index.js';

export function metadata() {
  return { name: '{{name}}', version: '0.1.0', kind: 'rollout', description: '{{description}}' };
}

export function configSchema() {
  return JSON.stringify({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    additionalProperties: false,
    properties: {
      iterations: { description: 'Analyses that must pass before promotion (default 3)', type: 'integer', minimum: 1 },
      intervalSeconds: { description: 'Seconds between analyses (default 60)', type: 'integer', minimum: 1 },
      threshold: { description: 'Failed analyses that roll back (default 2)', type: 'integer', minimum: 1 },
    },
  });
}

// Decisions are the WIT variant `rollout-decision`: `{ tag, val }`, with
// milliseconds (`u64`) as a BigInt.
const analyse = { tag: 'analyse' };
const promote = { tag: 'promote' };
const done = { tag: 'done' };
const wait = (ms) => ({ tag: 'wait', val: BigInt(ms) });
const rollback = (reason) => ({ tag: 'rollback', val: reason });

const because = (decision, why) => ({ decision, diagnostics: [info(why)] });

export const step = guard((state) => {
  const config = parseConfig(state.config, { iterations: 3, intervalSeconds: 60, threshold: 2 });
  const intervalMs = config.intervalSeconds * 1000;
  if (state.failedAnalyses >= config.threshold) {
    const failing = state.lastAnalysis.filter((c) => !c.passed).map((c) => `${c.name}: ${c.message}`);
    return because(
      rollback(`${state.failedAnalyses} failed analyses (threshold ${config.threshold}); last: ${failing.join('; ')}`),
      'rolling back',
    );
  }
  if (state.phase === 'promoting') {
    return state.candidateReady
      ? because(done, 'promoted')
      : because(wait(5000), 'waiting for the promoted primary to be ready');
  }
  if (!state.candidateReady) {
    return because(wait(5000), 'waiting for the candidate to be ready');
  }
  if (state.stepPassed < config.iterations) {
    const waited = state.sinceAnalysisMs === undefined ? intervalMs : Number(state.sinceAnalysisMs);
    return waited >= intervalMs
      ? because(analyse, `analysis ${state.stepPassed + 1} of ${config.iterations}`)
      : because(wait(intervalMs - waited), 'waiting for the next analysis');
  }
  const closed = state.gates.filter((g) => !g.passed).map((g) => g.name);
  if (closed.length) {
    return because(wait(intervalMs), `promotion waits for: ${closed.join(', ')}`);
  }
  return because(promote, 'every analysis passed');
});
