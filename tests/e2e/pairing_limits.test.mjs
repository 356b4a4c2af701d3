// Pairing-code limits (docs/security.md "Pairing codes", core/limits.h):
// failures count per address, per code and relay-wide, and none of them
// lets one client lock other users' correct codes out. Clients come from
// different loopback addresses (127.0.0.x: the whole /8 is the loopback
// interface), which the relay tells apart like any addresses.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  e2e, cleanupAll, TEST_TIMEOUT, waitFor, startRelay, api, show, tail, expectStatus, signup, createProject, createDevice,
} from './lib/harness.mjs';
import { apiFrom } from './lib/extra.mjs';

after(cleanupAll);

const ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
const randomCode = () => Array.from({ length: 8 }, () => ALPHABET[Math.floor(Math.random() * ALPHABET.length)]).join('');

function assertError(r, status, code, relay) {
  const ctx = `${show(r)}\n--- relay log ---\n${tail(relay.logs(), 20)}`;
  assert.equal(r.status, status, `status: ${ctx}`);
  assert.equal(r.body?.error?.code, code, `error.code: ${ctx}`);
  assert.equal(typeof r.body.error.message, 'string', `error.message: ${ctx}`);
}

// Mirrors core/limits.h.
const FAILS_PER_ADDR = 10;
const FAILS_PER_CODE = 5;
const FAILS_GLOBAL = 300;

const postFrom = (relay, from, pathname, body) => apiFrom(relay, from, 'POST', pathname, body);
const pair = (relay, from, code) => postFrom(relay, from, '/functions/v1/pair-device', { pairing_code: code, name: 'x' });

async function deviceWithCode(relay) {
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token);
  const { device, pairing_code: code } = await createDevice(relay, owner.token, project.id);
  return { owner, device, code };
}

test('pairing: a flood of failures from many addresses slows guessing but a correct code from a clean address still pairs', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const { code } = await deviceWithCode(relay);

  // 30 attacker addresses, each up to its own limit: the relay-wide ceiling
  let failures = 0;
  for (let a = 10; failures < FAILS_GLOBAL; a++) {
    const from = `127.0.0.${a}`;
    for (let i = 0; i < FAILS_PER_ADDR; i++) {
      const r = await pair(relay, from, randomCode());
      assertError(r, 404, 'invalid_code', relay);
      failures++;
    }
    const r = await pair(relay, from, randomCode());
    assertError(r, 429, 'rate_limited', relay);
    assert.match(r.headers.get('retry-after') || '', /^\d+$/);
  }

  // over the ceiling: an address that has failed once is slowed down at once…
  const late = '127.0.0.100';
  assertError(await pair(relay, late, randomCode()), 404, 'invalid_code', relay);
  assertError(await pair(relay, late, randomCode()), 429, 'rate_limited', relay);
  // …an attacker that failed earlier gets nothing, not even with the right code
  assertError(await pair(relay, '127.0.0.10', code), 429, 'rate_limited', relay);

  // the owner's machine, from an address with no failures: pairs
  const ok = await pair(relay, '127.0.0.2', code);
  const body = expectStatus(ok, 200, relay);
  assert.match(body.token, /^cld_/);
}));

test('pairing: a code named by too many failed attempts is voided (410 code_voided) and a new one works', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const { owner, device, code } = await deviceWithCode(relay);

  // one address uses up its failures, then keeps naming the real code: each
  // refused try counts against the code
  const attacker = '127.0.0.3';
  for (let i = 0; i < FAILS_PER_ADDR; i++) assertError(await pair(relay, attacker, randomCode()), 404, 'invalid_code', relay);
  for (let i = 0; i < FAILS_PER_CODE; i++) assertError(await pair(relay, attacker, code), 429, 'rate_limited', relay);
  await waitFor(() => /pairing code voided/.test(relay.logs()), { what: 'the relay to log the voided code' });

  // the code is dead for everyone, with a reason, and the device shows no live code
  const r = await pair(relay, '127.0.0.4', code);
  assertError(r, 410, 'code_voided', relay);
  assert.match(r.body.error.message, /voided after too many failed attempts; generate a new one/);
  const installer = await postFrom(relay, '127.0.0.4', '/functions/v1/download-connector', { pairing_code: code, platform: 'linux-x86_64' });
  assertError(installer, 410, 'code_voided', relay);
  const dev = expectStatus(await api(relay, 'GET', `/api/v1/devices/${device.id}`, undefined, owner.token), 200, relay);
  assert.equal((dev.device ?? dev).pairing_code_expires_at, null, `no live code: ${JSON.stringify(dev)}`);

  // its owner makes a new one, which pairs
  const fresh = expectStatus(await api(relay, 'POST', `/api/v1/devices/${device.id}/pairing-code`, {}, owner.token), 200, relay);
  assert.notEqual(fresh.pairing_code, code);
  expectStatus(await pair(relay, '127.0.0.4', fresh.pairing_code), 200, relay);
}));
