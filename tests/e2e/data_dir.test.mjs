// The relay's data directory (docs/security.md "Secrets", docs/operations.md
// "State"): the database holds password hashes, the CSRF key and hashes of
// live pairing codes, so clawlink.db and its -wal and -shm files are 0600
// whatever the directory's mode — systemd's StateDirectory= makes it 0755,
// and files created there used to be 0644. A database left readable by an
// older relay is tightened at start; a directory others can read is
// warned about.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { e2e, cleanupAll, TEST_TIMEOUT, startRelay, signup, tempDir, RELAY_BIN } from './lib/harness.mjs';

after(cleanupAll);

const mode = async (p) => (await stat(p)).mode & 0o777;

test('database files are 0600 in a 0755 data directory, and an old readable database is made private', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const dataDir = path.join(await tempDir('clawlink-data-'), 'state');
  await mkdir(dataDir, { mode: 0o755 });
  await chmod(dataDir, 0o755);
  let relay = await startRelay({ dataDir });
  await signup(relay); // a write: the WAL and shared-memory files exist now
  for (const f of ['clawlink.db', 'clawlink.db-wal', 'clawlink.db-shm']) {
    assert.equal((await mode(path.join(dataDir, f))).toString(8), '600', `${f} is private`);
  }
  assert.match(relay.logs(), /the data directory can be read by others; its database files are 0600/);
  await relay.stop();

  // As an older relay left them: readable by everyone.
  for (const f of ['clawlink.db', 'clawlink.db-wal', 'clawlink.db-shm']) await chmod(path.join(dataDir, f), 0o644).catch(() => {});
  relay = await startRelay({ dataDir });
  assert.match(relay.logs(), /database file was readable by others: made it 0600/);
  await signup(relay);
  for (const f of ['clawlink.db', 'clawlink.db-wal', 'clawlink.db-shm']) {
    assert.equal((await mode(path.join(dataDir, f))).toString(8), '600', `${f} is private again`);
  }
}));

// --store (docs/operations.md "State"): sqlite:PATH puts the database in
// PATH, apart from --data; a URL of no known kind is refused before
// anything starts, and a postgres:// URL's server that cannot be reached
// is said, never echoing the URL (it may hold a password;
// store_pg.test.mjs has the PostgreSQL store itself).
test('--store sqlite:PATH holds the database; bad URLs are refused clearly', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const base = await tempDir('clawlink-store-');
  const dataDir = path.join(base, 'state');
  const dbDir = path.join(base, 'db');
  const relay = await startRelay({ dataDir, extraArgs: ['--store', `sqlite:${dbDir}`] });
  await signup(relay);
  assert.equal((await mode(path.join(dbDir, 'clawlink.db'))).toString(8), '600', 'the database is where --store says');
  await assert.rejects(stat(path.join(dataDir, 'clawlink.db')), 'and not in --data');
  await relay.stop();

  const pg = spawnSync(RELAY_BIN, ['--listen', '127.0.0.1:1', '--data', dataDir, '--store', 'postgres://clawlink:s3cret@127.0.0.1:1/clawlink'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(pg.status, 1, 'an unreachable database: exit status 1');
  assert.match(pg.stderr, /cannot connect to PostgreSQL/);
  assert.doesNotMatch(pg.stderr, /s3cret/, 'the URL is not echoed');
  for (const [url, want] of [
    ['mysql://x', /--store: unknown store URL: want sqlite:PATH or a postgresql: URL/],
    ['sqlite:', /--store: sqlite: wants a directory/],
  ]) {
    const r = spawnSync(RELAY_BIN, ['--listen', '127.0.0.1:1', '--data', dataDir, '--store', url], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 2, `${url}: exit status 2`);
    assert.match(r.stderr, want);
    assert.doesNotMatch(r.stderr, /s3cret/, 'the URL is not echoed');
  }
}));
