// A long link between the agent and the relay (decisions 58;
// docs/protocol.md "Acknowledgements and the window"): the agent's output
// window grows when the acks show a long round trip, not a slow reader,
// is the limit, and its ring grows with it. The stream stays byte-exact
// while the window grows, and a browser that leaves and comes back
// resumes from a ring that is now larger than --ring-size: output
// produced while it was away, more than the configured ring holds,
// arrives whole and once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, startRelay, signup, createProject, pairAgent, startAgent,
  startSession,
} from './lib/harness.mjs';
import { OutputStream, openViewer, setRelayUrl, seqText, own } from './lib/extra.mjs';

after(cleanupAll);

const ONE_WAY_MS = 30; // a 60 ms round trip

/** A TCP forwarder that holds every chunk ONE_WAY_MS in each direction
 * (in order: timers of equal delay fire in the order they were set). */
async function startDelayProxy(scope, targetPort) {
  const conns = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair = { client, upstream };
    conns.add(pair);
    for (const [from, to] of [[client, upstream], [upstream, client]]) {
      from.on('data', (d) => setTimeout(() => { if (!to.destroyed) to.write(d); }, ONE_WAY_MS));
      from.on('end', () => setTimeout(() => to.end(), ONE_WAY_MS));
      from.on('error', () => {});
      from.on('close', () => { setTimeout(() => to.destroy(), ONE_WAY_MS); conns.delete(pair); });
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  own(scope, {
    name: `delay proxy :${port} → :${targetPort}`,
    cleanup: () => new Promise((resolve) => {
      for (const p of conns) { p.client.destroy(); p.upstream.destroy(); }
      server.close(() => resolve());
    }),
  });
  return port;
}

/** An agent behind the delay proxy, starting from the smallest window and
 * ring, free to grow to 4M. */
async function setupLongLink(scope) {
  const relay = await startRelay();
  const user = await signup(relay);
  const project = await createProject(relay, user.token);
  const paired = await pairAgent(relay, { token: user.token, projectId: project.id });
  const port = await startDelayProxy(scope, relay.port);
  await setRelayUrl(paired.configPath, `ws://127.0.0.1:${port}`);
  const agent = await startAgent(paired.configPath, {
    relay, token: user.token, projectId: project.id, deviceId: paired.deviceId,
    extraArgs: ['--ring-size', '64K', '--window', '64K', '--window-max', '4M', '--log-level', 'debug'],
  });
  return { relay, token: user.token, deviceId: paired.deviceId, agent };
}

/** The largest ring the agent's log reports a grown window with (0: none). */
function grownRing(agent) {
  let max = 0;
  for (const m of agent.logs().matchAll(/window grew.*?ring=(\d+)/g)) max = Math.max(max, Number(m[1]));
  return max;
}

test('long link: the window grows, the stream stays exact, and a resume replays more than --ring-size from the grown ring', { timeout: TEST_TIMEOUT * 2 }, e2e(async (t, scope) => {
  const env = await setupLongLink(scope);
  const { relay } = env;
  const sessionId = await startSession(relay, env.token, env.deviceId);
  const stream = new OutputStream();
  const vopts = (extra) => ({ wsUrl: relay.wsUrl, token: env.token, sessionId, deviceId: env.deviceId, stream, ack: 'explicit', ...extra });

  const v1 = await openViewer(scope, vopts({ resumeOffset: 0, label: 'first connection' }));
  await stream.waitFor('$ ');
  // ~2.3 MB through a 64K window over 60 ms: window-limited from the start
  v1.write('echo S_$((1+1)); seq 1 300000; echo A_$((2+1))\r');
  await stream.waitFor('A_3\r\n', { timeout: ms(60_000) });
  assert.equal(stream.between('S_2\r\n', 'A_3\r\n')?.toString(), seqText(1, 300000, '\r\n'), 'output while the window grows is exact');
  const ring = grownRing(env.agent);
  t.diagnostic(`ring grown to ${ring} bytes`);
  assert.ok(ring >= 256 * 1024, `the window and the ring grew past 256K (ring ${ring}); agent log:\n${env.agent.logs().slice(-2000)}`);

  // away: ~200 KB produced, three times --ring-size, less than the grown ring
  v1.write('sleep 1; echo C_$((4+1)); seq 1 30000; echo B_$((3+1))\r');
  await v1.close();
  const had = stream.next;
  await new Promise((r) => setTimeout(r, ms(3_000)));
  const v2 = await openViewer(scope, vopts({ resumeOffset: had, label: 'resumed connection' }));
  await stream.waitFor('B_4\r\n', { timeout: ms(30_000) });
  const first = v2.log.find((m) => m.type === 'stdout' || m.type === 'gap');
  assert.equal(first?.type, 'stdout', `first output message after resume: ${JSON.stringify(first)}`);
  assert.equal(first.offset, had, 'the first stdout after resume starts at resume_offset');
  for (const v of [v1, v2]) {
    assert.deepEqual(v.problems, [], `${v.label}: stdout offsets continuous`);
    assert.deepEqual(v.gaps, [], `${v.label}: no gap notice`);
  }
  assert.equal(stream.dups, 0, 'no byte received twice');
  assert.deepEqual(stream.holes, [], 'no hole in the reassembled stream');
  assert.equal(stream.between('C_5\r\n', 'B_4\r\n')?.toString(), seqText(1, 30000, '\r\n'), 'output produced while away is exact');
}));
