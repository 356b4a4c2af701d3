// The relay listens only where it is told: `--listen 127.0.0.1:PORT` must
// not be reachable on the machine's other addresses (libwebsockets opens a
// dual-stack socket on every address unless IPv6 is turned off for an
// IPv4 listen address; the one-time sign-in link of `make run` relies on
// loopback being loopback).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import { execFile } from 'node:child_process';
import { e2e, cleanupAll, TEST_TIMEOUT, ms, startRelay, tempDir, RELAY_BIN } from './lib/harness.mjs';

after(cleanupAll);

function otherAddress() {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return null;
}

function connect(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: 3000 });
    s.on('connect', () => { s.destroy(); resolve('connected'); });
    s.on('timeout', () => { s.destroy(); resolve('timeout'); });
    s.on('error', (e) => resolve(e.code));
  });
}

test('a relay on 127.0.0.1 is not reachable on another address of the machine', { timeout: TEST_TIMEOUT }, e2e(async (t) => {
  const other = otherAddress();
  if (!other) return t.skip('this machine has no non-loopback IPv4 address to try');
  const relay = await startRelay();
  assert.equal(await connect('127.0.0.1', relay.port), 'connected');
  assert.notEqual(await connect(other, relay.port), 'connected', `the relay answered on ${other}:${relay.port}`);
}));

test('a relay whose port is taken says so and exits 1, instead of running without listening', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const dir = await tempDir('clawlink-listen-');
  const out = await new Promise((resolve) => {
    execFile(RELAY_BIN, ['--listen', `127.0.0.1:${relay.port}`, '--data', dir], { timeout: ms(20_000) },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stderr }));
  });
  assert.equal(out.code, 1, `exit code (stderr: ${out.stderr.slice(-500)})`);
  assert.match(out.stderr, /cannot listen on 127\.0\.0\.1:\d+: Address already in use/);
  assert.match(out.stderr, /hint="choose another address or port: --listen ADDR:PORT, or LISTEN=ADDR:PORT with make run"/);
  assert.equal(await connect('127.0.0.1', relay.port), 'connected', 'the first relay still serves');
}));
