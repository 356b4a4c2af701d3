// HAProxy in front of relays, as docs/operations.md ("A cluster") tells an
// operator to run it: Debian's haproxy with the shipped
// deploy/haproxy-cluster.cfg itself, its addresses given through the
// environment (CL_LB_BIND, CL_RELAY1..3). Loopback only, stopped after.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, ms, sleep, tail } from './harness.mjs';

export const HAPROXY_CFG = fileURLToPath(new URL('../../../deploy/haproxy-cluster.cfg', import.meta.url));
const CANDIDATES = ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy'];

function binary() {
  const bin = CANDIDATES.find((p) => existsSync(p));
  if (!bin) throw new Error('haproxy not found: run scripts/install-deps (it installs Debian\'s haproxy)');
  return bin;
}

/** haproxy -c on the shipped file with these addresses: {status, output}. */
export function checkConfig(env) {
  const p = spawnSync(binary(), ['-c', '-f', HAPROXY_CFG], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: p.status, output: `${p.stdout}${p.stderr}` };
}

/**
 * Starts HAProxy before relays listening on relayPorts (1 to 3; fewer are
 * repeated to fill the three server lines). Waits until a request through
 * it reaches a relay. Returns {port, url, wsUrl, logs(), close()}.
 */
export async function startHaproxy(relayPorts) {
  const bin = binary();
  const port = await freePort();
  const servers = [0, 1, 2].map((i) => `127.0.0.1:${relayPorts[i % relayPorts.length]}`);
  const env = { ...process.env, CL_LB_BIND: `127.0.0.1:${port}`, CL_RELAY1: servers[0], CL_RELAY2: servers[1], CL_RELAY3: servers[2], CL_LB_MAXCONN: '4000' };
  const check = checkConfig(env);
  if (check.status !== 0) throw new Error(`haproxy -c refused ${HAPROXY_CFG}:\n${check.output}`);
  const proc = spawn(bin, ['-db', '-f', HAPROXY_CFG], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => proc.on('close', resolve));
  process.on('exit', () => { try { proc.kill('SIGKILL'); } catch { /* gone */ } });
  const lb = {
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    logs: () => out,
    async close() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
  const deadline = Date.now() + ms(15_000);
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`haproxy exited at start:\n${tail(out, 20)}`);
    try {
      const r = await fetch(`${lb.url}/readyz`, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`no relay answered through haproxy within 15 s:\n${tail(out, 20)}`);
    await sleep(100);
  }
  return lb;
}
