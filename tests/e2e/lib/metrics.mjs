// Prometheus /metrics as a test reads it (docs/operations.md "Metrics"):
// a relay started with --metrics-token-file, a scrape with its token, and
// the value of one sample.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ms, startRelay, tempDir } from './harness.mjs';

/** A relay with /metrics on; {relay, token}. */
export async function metricsRelay(extraArgs = []) {
  const dir = await tempDir('clawlink-metrics-');
  const token = crypto.randomBytes(32).toString('hex');
  const file = path.join(dir, 'metrics.token');
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  const relay = await startRelay({ extraArgs: ['--metrics-token-file', file, ...extraArgs] });
  return { relay, token };
}

/** GET /metrics with the token: the exposition's text. */
export async function scrape(relay, token) {
  const res = await fetch(`${relay.url}/metrics`, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(ms(10_000)) });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return text;
}

/** The value of one sample (name and exactly these labels), or 0 when absent. */
export function sample(text, name, labels = {}) {
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = {};
    for (const [, k, v] of (m[2] || '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) got[k] = v;
    const want = Object.entries(labels);
    if (Object.keys(got).length === want.length && want.every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return 0;
}

/** The sum of every sample of name. */
export function total(text, name) {
  let n = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{.*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) n += Number(m[2]);
  }
  return n;
}

