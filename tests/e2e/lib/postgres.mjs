// A real PostgreSQL server for a test file: Debian's binaries
// (/usr/lib/postgresql/*/bin, installed by scripts/install-deps), a fresh
// cluster in a temporary directory, listening only on a unix socket there
// (no TCP at all), trust authentication for its own socket, stopped and
// removed at the end. Started once per file (it takes a few seconds).
// As root, the server runs as the `postgres` user the package made
// (PostgreSQL refuses to run as root).
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, chmod, chown, rm, readFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { ms, tail } from './harness.mjs';

function binDir() {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'postgres'))) : [];
  if (!versions.length) {
    throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run scripts/install-deps (it installs Debian\'s postgresql)');
  }
  versions.sort((a, b) => Number(b) - Number(a));
  return path.join(root, versions[0], 'bin');
}

function run(file, args, { asUser } = {}) {
  const argv = asUser ? ['-u', asUser, '--', file, ...args] : args;
  const bin = asUser ? '/usr/sbin/runuser' : file;
  return new Promise((resolve, reject) => {
    execFile(bin, argv, { timeout: ms(120_000), maxBuffer: 8 << 20 }, (err, stdout, stderr) => (err
      ? reject(new Error(`${path.basename(file)} ${args.join(' ')}: ${err.message}\n${tail(`${stdout}\n${stderr}`, 20)}`))
      : resolve(stdout)));
  });
}

/**
 * Starts the server. Returns {dir, url, psql(sql), stop(), start(), close()}:
 * url is a libpq URL on the socket (user postgres, database postgres).
 */
export async function startPostgres() {
  const bin = binDir();
  const root = userInfo().uid === 0;
  let uid = null;
  let gid = null;
  if (root) {
    const passwd = await readFile('/etc/passwd', 'utf8');
    const row = passwd.split('\n').find((l) => l.startsWith('postgres:'));
    if (!row) throw new Error('running as root and there is no `postgres` user to run PostgreSQL as: run scripts/install-deps');
    [uid, gid] = row.split(':').slice(2, 4).map(Number);
  }
  const asUser = root ? 'postgres' : undefined;
  // short: a unix socket's path has about 100 bytes
  const dir = await mkdtemp(path.join(tmpdir(), 'cl-pg-'));
  await chmod(dir, 0o755);
  if (root) await chown(dir, uid, gid);
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'server.log');
  await run(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '-N'], { asUser });
  const opts = `-c listen_addresses='' -k ${dir} -c fsync=off`;
  let running = false;
  const pg = {
    dir,
    url: `postgresql:///postgres?host=${encodeURIComponent(dir)}&user=postgres`,
    logs: () => { try { return readFileSync(log, 'utf8'); } catch { return ''; } },
    async start() {
      await run(path.join(bin, 'pg_ctl'), ['-D', data, '-l', log, '-w', '-t', '60', '-o', opts, 'start'], { asUser });
      running = true;
    },
    async stop() {
      if (!running) return;
      running = false;
      await run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop'], { asUser });
    },
    /** Runs sql with psql on the socket; returns its unaligned output. */
    psql(sql) {
      return run(path.join(bin, 'psql'), ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', dir, '-U', 'postgres', '-d', 'postgres', '-c', sql]);
    },
    async close() {
      try { await pg.stop(); } finally { await rm(dir, { recursive: true, force: true }); }
    },
  };
  await pg.start();
  return pg;
}
