// Store work off the event loop (src/relay/store_pool.c, decision 68):
// the API's store routes run on worker threads with their own database
// connections, so a database that stalls (here: another connection holds
// SQLite's write lock, as a long migration or a backup would) holds up
// the requests that need it and never the terminals the loop forwards.
// The request then completes once the lock is gone.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { e2e, cleanupAll, TEST_TIMEOUT, ms, api, startRelay, startSession, tail, waitFor, expectStatus } from './lib/harness.mjs';
import { OutputStream, openViewer, setupAgent } from './lib/extra.mjs';

after(cleanupAll);

/** Another connection to db holding the write lock until release(). */
async function lockDatabase(db) {
  const p = spawn('sqlite3', [db], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { out += d; });
  p.stdin.write('.timeout 5000\nBEGIN IMMEDIATE;\nSELECT \'locked\';\n');
  await waitFor(() => out.includes('locked'), { what: 'the lock', describe: () => out });
  const exited = new Promise((resolve) => p.on('close', resolve));
  return {
    async release() { p.stdin.end('COMMIT;\n.quit\n'); await exited; },
  };
}

test('a database locked by another connection holds up an API write, not the terminal; the write completes after', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  // SQLite's write lock is the stall (whatever CL_E2E_STORE says)
  const env = await setupAgent({ relay: await startRelay({ store: 'sqlite' }), scope });
  const sessionId = await startSession(env.relay, env.token, env.deviceId);
  const s = new OutputStream();
  const v = await openViewer(scope, { wsUrl: env.relay.wsUrl, token: env.token, sessionId, deviceId: env.deviceId, stream: s, resumeOffset: 0 });
  await s.waitFor('$ ');

  const lock = await lockDatabase(path.join(env.relay.dataDir, 'clawlink.db'));
  let settled = null;
  const rename = api(env.relay, 'PATCH', `/api/v1/projects/${env.projectId}`, { name: 'renamed while locked' }, env.token)
    .then((r) => { settled = r; return r; });
  // the terminal answers while the write waits for the lock
  v.write('echo $((6*7))\r');
  await s.waitFor('\r\n42\r\n', { timeout: ms(4_000) });
  v.write('echo $((7*8))\r');
  await s.waitFor('\r\n56\r\n', { timeout: ms(4_000) });
  assert.equal(settled, null, `the write must still wait for the lock: ${JSON.stringify(settled?.body)}\n${tail(env.relay.logs(), 10)}`);
  // reads do not wait for a writer (WAL)
  expectStatus(await api(env.relay, 'GET', `/api/v1/projects/${env.projectId}`, undefined, env.token), 200, env.relay);

  await lock.release();
  const r = await rename;
  assert.equal(expectStatus(r, 200, env.relay).project.name, 'renamed while locked');
  v.close();
}));
