// The relay listens only where it is told: `--listen 127.0.0.1:PORT` must
// not be reachable on the machine's other addresses (libwebsockets opens a
// dual-stack socket on every address unless IPv6 is turned off for an
// IPv4 listen address; the one-time sign-in link of `make run` relies on
// loopback being loopback).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import { e2e, cleanupAll, TEST_TIMEOUT, startRelay } from './lib/harness.mjs';

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
