// Lossless resume (docs/protocol.md, "Lossless resume and flow control"):
// browsers that reconnect with resume_offset, relay restarts (graceful and
// kill -9), a PrivaClaw browser that never acks, and gap notices when the
// agent's ring has moved on.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, sleep, startRelay, signup, createProject, pairAgent, startAgent,
  startSession, waitFor, waitDeviceStatus, tempDir,
} from './lib/harness.mjs';
import {
  OutputStream, openViewer, reattach, startProxy, killHard, setRelayUrl, seqText, sha256, bigText,
} from './lib/extra.mjs';

after(cleanupAll);

/** Relay (or the one given), user, project, the real agent paired and online. */
async function setup({ relay, relayArgs = [], agentArgs = [], viaProxy, scope } = {}) {
  relay = relay || await startRelay({ extraArgs: relayArgs });
  const user = await signup(relay);
  const project = await createProject(relay, user.token);
  const paired = await pairAgent(relay, { token: user.token, projectId: project.id });
  let proxy;
  if (viaProxy) {
    proxy = await startProxy(scope, relay.port);
    await setRelayUrl(paired.configPath, `ws://127.0.0.1:${proxy.port}`);
  }
  const agent = await startAgent(paired.configPath, {
    relay, token: user.token, projectId: project.id, deviceId: paired.deviceId, extraArgs: [...agentArgs, '--log-level', 'debug'],
  });
  return { relay, user, token: user.token, projectId: project.id, deviceId: paired.deviceId, paired, agent, proxy };
}

/** Viewer options for a session of env (wsUrl from the relay given). */
const vopts = (env, relay, sessionId, stream, extra = {}) => ({
  wsUrl: relay.wsUrl, token: env.token, sessionId, deviceId: env.deviceId, stream, ...extra,
});

function assertClean(stream, viewers) {
  for (const v of viewers) {
    assert.deepEqual(v.problems, [], `${v.label}: stdout offsets continuous from its resume_offset`);
    assert.deepEqual(v.gaps, [], `${v.label}: no gap notice`);
  }
  assert.equal(stream.dups, 0, `no byte received twice: ${JSON.stringify(stream.dupEvents)}`);
  assert.deepEqual(stream.holes, [], 'no hole in the reassembled stream');
}

test('kill -9 the relay twice while 50 MiB stream (default ring and window, explicit acks): the SHA-256 matches', { timeout: TEST_TIMEOUT * 3 }, e2e(async (t, scope) => {
  const dataDir = await tempDir('clawlink-relay-data-');
  let relay = await startRelay({ dataDir });
  // The agent reaches the relay through a proxy so that, after each crash,
  // the browser is attached again before the agent returns: with nobody
  // attached the agent reads without a window (protocol.md: "programs never
  // block on nobody") and the ring would move past the browser.
  const env = await setup({ relay, viaProxy: true, scope });
  const file = bigText(50 << 20);
  await writeFile(path.join(env.agent.home, 'big.txt'), file);
  const want = sha256(file);

  const sessionId = await startSession(relay, env.token, env.deviceId);
  const stream = new OutputStream();
  const viewers = [];
  let v = await openViewer(scope, vopts(env, relay, sessionId, stream, { resumeOffset: 0, ack: 'explicit', label: 'viewer 1' }));
  viewers.push(v);
  await stream.waitFor('$ ');
  v.write('stty -onlcr -echo; echo __ST""ART__; cat big.txt; echo __E""ND__\r');
  const startAt = await stream.waitFor('__START__\n', { timeout: ms(30_000) });

  for (const killAt of [8 << 20, 25 << 20]) {
    await waitFor(() => stream.length - startAt >= killAt, { timeout: ms(120_000), interval: 20, what: `${killAt} bytes of the file to arrive`, describe: () => v.describe() });
    env.proxy.refuse(); // the agent's next connection attempts fail until the browser is back
    await killHard(relay);
    await v.closed;
    relay = await startRelay({ dataDir, port: relay.port });
    v = await reattach(scope, vopts(env, relay, sessionId, stream, { ack: 'explicit', label: `viewer ${viewers.length + 1}`, start: null }));
    viewers.push(v);
    env.proxy.forward();
  }
  await stream.waitFor('__END__\n', { from: startAt, timeout: ms(180_000) });

  console.log(viewers.map(v=>JSON.stringify(v.gaps)).join(' '));
  for (const r of [relay]) console.log(r.logs().split('\n').filter((l) => /replay|missed|lagging|attached|agent online/.test(l)).join('\n'));
  console.log(env.agent.logs().split('\n').filter((l) => /connected to relay|replay|disconnected|viewers changed|overwritten/.test(l)).join('\n'));
  assertClean(stream, viewers);
  const got = stream.between('__START__\n', '__END__\n');
  assert.ok(got, 'markers found');
  assert.equal(got.length, file.length, `bytes between the markers: ${got.length}, file: ${file.length}`);
  assert.equal(sha256(got), want, 'SHA-256 of the received bytes equals the file');
}));

