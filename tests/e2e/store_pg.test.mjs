// The relay's store in PostgreSQL (docs/operations.md, "PostgreSQL";
// decisions 71), black-box: a relay started with --store-file (the URL,
// password and all, off the command line) keeps its state in the
// database, two relays on one database see the same accounts, a database
// that restarts under a running relay costs some requests a 503 with
// Retry-After (never a crash, never a 500) and the relay carries on, and a
// server that cannot be reached at start-up is said clearly, the password
// never shown. One PostgreSQL server for the file (lib/postgres.mjs).
//
// The rest of the suite runs against PostgreSQL too with
// CL_E2E_STORE=postgres (lib/harness.mjs), e.g. policy_matrix, terminal,
// shares, resume and events.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  RELAY_BIN, TEST_TIMEOUT, api, assertNoSecrets, cleanupAll, createProject, e2e, expectStatus, freePort,
  loginLink, randomId, relayPostgres, signup, sleep, startRelay, tempDir,
} from './lib/harness.mjs';

after(cleanupAll);

// trust authentication ignores a password, so the URL can carry one that
// must never show in a log or the process list
const PASSWORD = `pw-${randomId(12)}`;

async function storeFile(pg, db) {
  await pg.psql(`CREATE DATABASE ${db}`);
  const file = path.join(await tempDir('clawlink-store-url-'), 'store-url');
  await writeFile(file, `${pg.url.replace('/postgres?', `/${db}?`)}&password=${PASSWORD}\n`, { mode: 0o600 });
  return file;
}

test('two relays on one PostgreSQL database share their state; the URL stays secret; only they map libpq', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const pg = await relayPostgres();
  const file = await storeFile(pg, `shared_${randomId(6).toLowerCase()}`);
  const a = await startRelay({ extraArgs: ['--store-file', file] });
  const b = await startRelay({ extraArgs: ['--store-file', file] });
  assert.match(a.logs(), /database open.*backend=postgres/);
  assert.ok(!existsSync(path.join(a.dataDir, 'clawlink.db')), 'no SQLite file beside it');
  assert.ok(!a.args.join(' ').includes(PASSWORD), 'the password is not on the command line');

  const owner = await signup(a);
  const project = await createProject(a, owner.token, 'Shared');
  // b signs the same account in, and sees the project a created
  const r = await api(b, 'POST', '/api/v1/auth/login', { email: owner.email, password: owner.password });
  const token = expectStatus(r, 200, b).token;
  const list = expectStatus(await api(b, 'GET', '/api/v1/projects', undefined, token), 200, b);
  assert.deepEqual(list.projects.map((p) => p.id), [project.id]);
  // libpq is loaded for PostgreSQL only (core/pqlib.c): a SQLite relay never maps it
  assert.match(await readFile(`/proc/${a.proc.pid}/maps`, 'utf8'), /libpq\.so/);
  const plain = await startRelay({ store: 'sqlite' });
  assert.doesNotMatch(await readFile(`/proc/${plain.proc.pid}/maps`, 'utf8'), /libpq\.so/, 'a SQLite relay maps no libpq');
  const cmdline = await readFile(`/proc/${a.proc.pid}/cmdline`, 'utf8');
  assert.ok(!cmdline.includes(PASSWORD), 'not in /proc/PID/cmdline either');
  assertNoSecrets(a, [PASSWORD], 'relay a');
  assertNoSecrets(b, [PASSWORD], 'relay b');
}));

test('the database restarts under a running relay: 503 with Retry-After meanwhile, then it carries on', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const pg = await relayPostgres();
  const relay = await startRelay({ extraArgs: ['--store-file', await storeFile(pg, `restart_${randomId(6).toLowerCase()}`)] });
  const owner = await signup(relay);
  await createProject(relay, owner.token, 'Before');
  const projects = () => api(relay, 'GET', '/api/v1/projects', undefined, owner.token);

  await pg.stop();
  const down = await projects();
  assert.equal(down.status, 503, `while the database is down: ${down.status} ${down.text}`);
  assert.equal(down.body?.error?.code, 'unavailable');
  assert.ok(Number(down.headers.get('retry-after')) > 0, 'Retry-After says when to try again');
  const health = await fetch(`${relay.url}/healthz`);
  assert.notEqual(health.status, 200, 'the health check says the store is down');
  await health.arrayBuffer();

  await pg.start();
  let back = null;
  for (let i = 0; i < 50; i++) {
    back = await projects();
    assert.ok(back.status === 200 || back.status === 503, `never a 500: ${back.status} ${back.text}`);
    if (back.status === 200) break;
    await sleep(100);
  }
  assert.equal(back.status, 200, 'the relay reconnects by itself');
  assert.deepEqual(back.body.projects.map((p) => p.name), ['Before']);
  await createProject(relay, owner.token, 'After');
  assert.equal(relay.handle.exitInfo, null, 'the relay never exited');
  assertNoSecrets(relay, [PASSWORD], 'relay');
}));

test('a database that cannot be reached at start-up: a clear error, exit 1, no password', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const dir = await tempDir('clawlink-store-url-');
  const file = path.join(dir, 'store-url');
  const port = await freePort();
  await writeFile(file, `postgresql://clawlink:${PASSWORD}@127.0.0.1:${port}/clawlink\n`, { mode: 0o600 });
  const r = spawnSync(RELAY_BIN, ['--listen', '127.0.0.1:1', '--data', dir, '--store-file', file], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /cannot connect to PostgreSQL/);
  assert.doesNotMatch(r.stderr, new RegExp(PASSWORD));

  const both = spawnSync(RELAY_BIN, ['--data', dir, '--store', 'sqlite:x', '--store-file', file], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(both.status, 2);
  assert.match(both.stderr, /--store and --store-file: one or the other/);
}));

test('the operator commands reach a relay on PostgreSQL with --store-file: login-link, verify-email', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const pg = await relayPostgres();
  const file = await storeFile(pg, `ops_${randomId(6).toLowerCase()}`);
  const relay = await startRelay({ extraArgs: ['--store-file', file] });
  const u = await signup(relay);
  const link = await loginLink(['--store-file', file, '--email', u.email, '--listen', `127.0.0.1:${relay.port}`]);
  assert.equal(link.code, 0, link.stderr);
  assert.match(link.stdout, /\/auth#one-time=/);
  assert.doesNotMatch(link.stderr + link.stdout, new RegExp(PASSWORD));
  const v = spawnSync(RELAY_BIN, ['verify-email', '--store-file', file, u.email], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /address proven$/m);
  const again = spawnSync(RELAY_BIN, ['verify-email', '--store-file', file, u.email], { encoding: 'utf8', timeout: 20_000 });
  assert.match(again.stdout, /address proven \(already\)/, 'the relay\'s database has it');
}));
