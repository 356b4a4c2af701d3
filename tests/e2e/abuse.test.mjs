// One client must not take the relay from everyone else (docs/security.md
// "Input limits", src/relay/admission.h). The relay runs under a 512-file
// limit (as a service under systemd's default 1,024 would, roughly), with
// --max-conns-per-addr 64. From one address, 300 connections that send half
// a request and stall; from another, 100 WebSockets that never
// authenticate. Meanwhile, from a third, /healthz answers and a real user
// pairs an agent and gets a shell. The attacker keeps at most its cap, its
// unauthenticated WebSockets are closed after the deadline, refusals are
// logged once a second, not once each, and nothing ever fails accept().
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { existsSync } from 'node:fs';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, sleep, startRelay, wsClient, waitFor, tail, startSession,
} from './lib/harness.mjs';
import { OutputStream, openViewer, setupAgent } from './lib/extra.mjs';

after(cleanupAll);

const PER_ADDR = 64;
const UNAUTH_PER_ADDR = 32; // CL_RELAY_UNAUTH_WS_PER_ADDR
const AUTH_DEADLINE_MS = 10_000; // CL_RELAY_AUTH_DEADLINE_S

/** A TCP connection from localAddress that sends half a request header and stalls. */
function slowHeader(port, localAddress) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: '));
    const c = { s, closed: false };
    s.on('close', () => { c.closed = true; });
    s.on('error', () => {});
    s.once('connect', () => resolve(c));
    s.once('error', () => resolve(c));
  });
}

test('a connection flood from one address: its cap holds, unauthenticated sockets time out, everyone else is served', { timeout: TEST_TIMEOUT * 2 }, e2e(async (t, scope) => {
  const wrapper = existsSync('/usr/bin/prlimit') ? ['/usr/bin/prlimit', '--nofile=512:512', '--'] : [];
  const relay = await startRelay({ extraArgs: ['--max-conns-per-addr', String(PER_ADDR)], wrapper });
  assert.match(relay.logs(), new RegExp(`connection limits.*per_addr=${PER_ADDR}`));

  // 300 stalled requests from 127.0.0.2.
  const slow = [];
  for (let i = 0; i < 300; i++) slow.push(await slowHeader(relay.port, '127.0.0.2'));
  t.after(() => { for (const c of slow) c.s.destroy(); });
  await waitFor(() => slow.filter((c) => !c.closed).length <= PER_ADDR, {
    timeout: ms(10_000), what: `at most ${PER_ADDR} of 300 kept`, describe: () => `${slow.filter((c) => !c.closed).length} open`,
  });

  // 100 WebSockets from 127.0.0.3 that never say hello.
  const idle = [];
  for (let i = 0; i < 100; i++) {
    try {
      idle.push(await wsClient(`${relay.wsUrl}/connect`, { label: `idle ${i}`, wsOptions: { localAddress: '127.0.0.3' } }));
    } catch { /* refused before the upgrade: fine */ }
  }
  await waitFor(() => idle.filter((c) => !c.closeInfo).length <= UNAUTH_PER_ADDR, {
    timeout: ms(10_000), what: `at most ${UNAUTH_PER_ADDR} unauthenticated kept`, describe: () => `${idle.filter((c) => !c.closeInfo).length} open`,
  });
  const refusedWs = idle.filter((c) => c.closeInfo);
  assert.ok(refusedWs.every((c) => c.closeInfo.code === 1008), JSON.stringify(refusedWs.slice(0, 3).map((c) => c.closeInfo)));

  // Everyone else, from 127.0.0.1, throughout.
  for (let i = 0; i < 5; i++) {
    const r = await fetch(`${relay.url}/healthz`, { signal: AbortSignal.timeout(ms(5_000)) });
    assert.equal(r.status, 200);
  }
  const env = await setupAgent({ relay });
  const sessionId = await startSession(relay, env.token, env.deviceId);
  const out = new OutputStream();
  const v = await openViewer(scope, { wsUrl: relay.wsUrl, token: env.token, sessionId, deviceId: env.deviceId, stream: out, resumeOffset: 0 });
  await out.waitFor('$ ');
  v.write('echo $((6*7))\r');
  await out.waitFor('\r\n42\r\n');

  // The unauthenticated ones that were let in are closed after the deadline.
  await waitFor(() => idle.every((c) => c.closeInfo), {
    timeout: AUTH_DEADLINE_MS + ms(5_000), what: 'every unauthenticated WebSocket closed by the deadline',
    describe: () => `${idle.filter((c) => !c.closeInfo).length} still open`,
  });
  assert.ok(idle.some((c) => c.closeInfo.reason === 'authentication timeout'), 'closed for the deadline');
  // ...while the authenticated viewer and agent stay.
  assert.equal(v.closeInfo ?? null, null);
  v.write('echo after-$((6*7))\r');
  await out.waitFor('after-42');

  // Refusals: summed, about one line a second; accept() never failed.
  const log = relay.logs();
  const refusedLines = log.split('\n').filter((l) => /connections refused/.test(l));
  assert.ok(refusedLines.length >= 1 && refusedLines.length <= 30, `refusal lines: ${refusedLines.length}\n${refusedLines.slice(0, 5).join('\n')}`);
  assert.doesNotMatch(log, /accept: errno/, tail(log, 20));
  await sleep(100);
}));
