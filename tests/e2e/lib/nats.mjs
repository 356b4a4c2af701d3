// A real NATS server for a test file: Debian's nats-server (installed by
// scripts/install-deps), on 127.0.0.1 and a free port, optionally with a
// user and password. Started once per file; kill() is kill -9 (a crash),
// start() brings it back on the same port.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { freePort, ms, sleep, tail } from './harness.mjs';

const CANDIDATES = ['/usr/bin/nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server'];

function binary() {
  const bin = CANDIDATES.find((p) => existsSync(p));
  if (!bin) throw new Error('nats-server not found: run scripts/install-deps (it installs Debian\'s nats-server)');
  return bin;
}

function listening(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

/**
 * Starts nats-server. Options: user, pass (then clients must give them).
 * Returns {port, url (nats://[user:pass@]127.0.0.1:port), kill(), start(),
 * close(), logs()}.
 */
export async function startNats({ user, pass } = {}) {
  const bin = binary();
  const port = await freePort();
  let proc = null;
  let out = '';
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  if (user) args.push('--user', user, '--pass', pass);
  const nats = {
    port,
    url: user ? `nats://${user}:${pass}@127.0.0.1:${port}` : `nats://127.0.0.1:${port}`,
    logs: () => out,
    async start() {
      if (proc) return;
      proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const p = proc;
      p.stdout.on('data', (d) => { out += d; });
      p.stderr.on('data', (d) => { out += d; });
      p.exited = new Promise((resolve) => p.on('close', resolve));
      const deadline = Date.now() + ms(10_000);
      while (!(await listening(port))) {
        if (p.exitCode !== null || Date.now() > deadline) {
          throw new Error(`nats-server did not start on ${port}\n${tail(out, 20)}`);
        }
        await sleep(20);
      }
    },
    /** kill -9: the server crashes. */
    async kill() {
      if (!proc) return;
      const p = proc;
      proc = null;
      p.kill('SIGKILL');
      await p.exited;
    },
    async close() { await nats.kill(); },
  };
  await nats.start();
  process.on('exit', () => { try { proc?.kill('SIGKILL'); } catch { /* gone */ } });
  return nats;
}
