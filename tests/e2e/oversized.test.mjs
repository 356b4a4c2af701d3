// Messages too big for the agent (docs/protocol.md "Limits":
// CL_WS_MAX_MESSAGE, 1 MiB). A relay that sends one, in one frame or in
// fragments, gets close 1009 and a reconnect, never a crash: one frame
// over 1 MiB once made lws 4.1 write past its receive buffer when the
// agent refused it from the receive callback (a heap overflow; valgrind
// saw it, glibc aborted with "double free or corruption", 16 MiB gave
// SIGSEGV). The hostile relay here is a plain WebSocket server; the agent
// runs under valgrind when it is installed (not in the ASan build, which
// checks the same itself). And through the real relay: 1 MiB of binary
// stdin from a v2 browser to a --proto 1 agent is re-encoded as base64
// JSON in pieces the agent accepts, and reaches the shell whole.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, SANITIZED, tempDir, startAgent, waitFor, tail, freePort, randomId,
  encodeBinFrame, startSession,
} from './lib/harness.mjs';
import { OutputStream, openViewer, setupAgent } from './lib/extra.mjs';

after(cleanupAll);

const MAX = 1024 * 1024; // CL_WS_MAX_MESSAGE
const VALGRIND = '/usr/bin/valgrind';
const underValgrind = !SANITIZED && existsSync(VALGRIND);

/** A relay that answers hello and then does what the test says. */
async function hostileRelay() {
  const port = await freePort();
  const wss = new WebSocketServer({ host: '127.0.0.1', port, maxPayload: 64 << 20 });
  const r = { port, conns: [], closes: [], wss };
  wss.on('connection', (ws) => {
    const c = { ws, hello: null };
    r.conns.push(c);
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.type === 'hello' && !c.hello) {
        c.hello = m;
        ws.send(JSON.stringify({ type: 'hello_ok', data: { proto: 2 } }));
      }
    });
    ws.on('close', (code) => r.closes.push(code));
  });
  await new Promise((res) => wss.on('listening', res));
  r.close = () => new Promise((res) => { for (const c of r.conns) c.ws.terminate(); wss.close(res); });
  return r;
}

const bigJson = (n) => {
  const head = '{"type":"stdin","data":{"session_id":"s","data_b64":"';
  const tailJ = '"}}';
  return head + 'A'.repeat(n - head.length - tailJ.length) + tailJ;
};

test('a relay sending messages over 1 MiB (16 MiB in one frame, 1 MiB + 1, 2 MiB in 64 KiB fragments) gets close 1009 and a reconnect, never a crash', { timeout: TEST_TIMEOUT * 2 }, e2e(async (t) => {
  const relay = await hostileRelay();
  t.after(() => relay.close());
  const dir = await tempDir('clawlink-oversized-');
  const config = path.join(dir, 'agent.json');
  await writeFile(config, JSON.stringify({
    device_id: `dev-${randomId(4)}`, token: `cld_${randomId(16)}`, relay_url: `ws://127.0.0.1:${relay.port}`, name: 'target',
  }), { mode: 0o600 });
  const wrapper = underValgrind ? [VALGRIND, '--error-exitcode=99', '--errors-for-leak-kinds=none', '-q'] : [];
  const agent = await startAgent(config, { wrapper });
  const slow = underValgrind ? 8 : 1;

  const sends = [
    ['16 MiB in one frame', (ws) => ws.send(bigJson(16 * MAX))],
    ['1 MiB + 1 in one frame', (ws) => ws.send(bigJson(MAX + 1))],
    ['2 MiB in 64 KiB fragments', (ws) => {
      const text = bigJson(2 * MAX);
      for (let off = 0; off < text.length; off += 65536) {
        ws.send(text.slice(off, off + 65536), { fin: off + 65536 >= text.length });
      }
    }],
  ];
  for (const [i, [what, send]] of sends.entries()) {
    await waitFor(() => relay.conns.length > i && relay.conns[i].hello, {
      timeout: ms(30_000) * slow, what: `connection ${i + 1} and its hello`, describe: () => tail(agent.logs(), 20),
    });
    send(relay.conns[i].ws);
    await waitFor(() => relay.closes.length > i, { timeout: ms(30_000) * slow, what: `the agent to close after ${what}`, describe: () => tail(agent.logs(), 20) });
    assert.equal(relay.closes[i], 1009, `${what}: closed with 1009 (message too big)`);
    assert.equal(agent.handle.exitInfo, null, `${what}: the agent is still running:\n${tail(agent.logs(), 30)}`);
  }
  // It comes back after the last one too, and a message at the limit is
  // taken (and ignored as malformed stdin for an unknown session).
  await waitFor(() => relay.conns.length > sends.length && relay.conns[sends.length].hello, {
    timeout: ms(30_000) * slow, what: 'a reconnect after the last refusal', describe: () => tail(agent.logs(), 20),
  });
  relay.conns[sends.length].ws.send(bigJson(MAX));
  relay.conns[sends.length].ws.send(JSON.stringify({ type: 'ping' }));
  await new Promise((res) => setTimeout(res, 500 * slow));
  assert.equal(relay.closes.length, sends.length, 'a message of exactly 1 MiB is not refused');
  assert.match(agent.logs(), /message from relay too big; closing/);
  await agent.stop();
  // valgrind's verdict: an invalid read or write makes it exit 99.
  assert.doesNotMatch(agent.logs(), /Invalid (read|write)|ERROR SUMMARY: [1-9]/, tail(agent.logs(), 40));
}));

test('binary stdin from a v2 browser to a --proto 1 agent is re-encoded in pieces the agent accepts: 60 KiB arrives whole, 1 MiB never closes the link', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  const env = await setupAgent({ agentArgs: ['--proto', '1'] });
  const sessionId = await startSession(env.relay, env.token, env.deviceId);
  const out = new OutputStream();
  const v = await openViewer(scope, { wsUrl: env.relay.wsUrl, token: env.token, sessionId, deviceId: env.deviceId, stream: out, resumeOffset: 0, proto: 2 });
  assert.equal(v.proto, 2, 'the browser speaks v2');
  await out.waitFor('$ ');
  const printable = (n) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = 0x20 + ((i * 7) % 90); // nothing the tty interprets
    return b;
  };
  // 60 KiB: two pieces of base64 JSON (48 KiB of input each at most), in
  // order; the shell reads exactly that many bytes raw and prints their sum.
  const N = 60 * 1024;
  const payload = printable(N);
  v.write(`stty raw -echo; head -c ${N} | sha256sum; stty sane\r`);
  await new Promise((res) => setTimeout(res, 300));
  v.ws.send(encodeBinFrame('stdin', sessionId, 0, payload), { binary: true });
  await out.waitFor(createHash('sha256').update(payload).digest('hex'), ms(30_000));

  // The largest stdin one v2 frame can carry: ~1.33 MiB as one JSON
  // message once crashed the agent. In pieces, it takes them all (what a
  // busy program does not read is dropped past 64 KiB, logged: a separate
  // matter) and keeps its link.
  const agentFrom = env.agent.logs().length;
  v.write('stty -echo; cat > /dev/null\r');
  await new Promise((res) => setTimeout(res, 300));
  v.ws.send(encodeBinFrame('stdin', sessionId, 0, printable(MAX - 64)), { binary: true });
  await new Promise((res) => setTimeout(res, 1000));
  v.write('\x03'); // ^C also flushes the terminal's input: type on after it
  await new Promise((res) => setTimeout(res, 500));
  v.write('echo after-$((6*7))\r');
  await out.waitFor('after-42', ms(30_000));
  const agentLog = env.agent.logs().slice(agentFrom);
  assert.doesNotMatch(agentLog, /too big|disconnected from relay/, `the agent kept its link:\n${tail(agentLog, 20)}`);
}));
