// An idle browser stays connected. The relay runs with --ping-interval 1,
// so 12 s of idling are 12 of its ping intervals and well past its 7 s
// hang-up (2 × interval + 5 s): the dashboard's /events socket and an open
// terminal's /session socket, each answered by Chromium's own pongs, must
// see no reconnect, no "went offline" toast, and the shell must still
// answer afterwards. (Every idle peer was once dropped about a minute in:
// decision 34.)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { e2e, cleanupAll, ms, sleep, tail, startRelay, signup, createProject, pairAgent, startAgent } from '../lib/harness.mjs';
import { launchBrowser, openPage, signInContext, tid, waitTermState, waitTermLine, WEB_ARGS } from '../lib/browser.mjs';

after(cleanupAll);

const IDLE_MS = 12_000;

/** Every WebSocket the page opens, by path, and how many have closed. */
function watchSockets(page) {
  const w = { opened: [], closed: [] };
  page.on('websocket', (ws) => {
    const p = new URL(ws.url()).pathname;
    w.opened.push(p);
    ws.on('close', () => w.closed.push(p));
  });
  return w;
}

test('a dashboard and a terminal left open through 12 ping intervals keep their sockets', { timeout: ms(3 * 60_000) }, e2e(async (t, scope) => {
  const relay = await startRelay({ extraArgs: ['--ping-interval', '1', ...WEB_ARGS] });
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token, 'Idle lab');
  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name: 'idle-box' });
  const agent = await startAgent(paired.configPath, { relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId });

  const browser = await launchBrowser(scope);
  const { context, page: dash, problems } = await openPage(scope, browser, relay, { label: 'dashboard' });
  await signInContext(context, owner.email, owner.password);
  const dashSockets = watchSockets(dash);
  await dash.goto('/dashboard');
  const row = tid(dash, 'device-row').filter({ hasText: 'idle-box' });
  await row.locator('[data-testid="device-status"]').filter({ hasText: /online/i }).waitFor({ timeout: ms(20_000) });

  const term = await context.newPage();
  term.on('pageerror', (e) => problems.push(`terminal: page error: ${e.message}`));
  const termSockets = watchSockets(term);
  await term.goto(`/terminal/${paired.deviceId}/new`);
  await waitTermState(term, 'online');
  await tid(term, 'terminal').click();
  await term.keyboard.type('echo $((6*7))\n');
  await waitTermLine(term, /^42\s*$/);

  const before = { dash: dashSockets.opened.length, term: termSockets.opened.length };
  const relayFrom = relay.logs().length;
  const agentFrom = agent.logs().length;
  await sleep(IDLE_MS);

  const relayLog = relay.logs().slice(relayFrom);
  assert.doesNotMatch(relayLog, /peer silent/, `no browser socket was dropped:\n${tail(relayLog, 20)}`);
  assert.deepEqual(dashSockets.closed, [], 'the dashboard closed no socket');
  assert.deepEqual(termSockets.closed, [], 'the terminal closed no socket');
  assert.equal(dashSockets.opened.length, before.dash, `the dashboard opened no new socket: ${dashSockets.opened}`);
  assert.equal(termSockets.opened.length, before.term, `the terminal opened no new socket: ${termSockets.opened}`);
  assert.equal(await dash.locator('#toasts').getByText(/went offline/).count(), 0, 'no "went offline" toast');
  assert.equal(await term.evaluate(() => window.__clawlinkTerm?.state?.()), 'online');
  assert.doesNotMatch(agent.logs().slice(agentFrom), /disconnected from relay/, 'the agent kept its link');

  await term.keyboard.type('echo idle-$((6*7))\n');
  await waitTermLine(term, /^idle-42\s*$/);
  assert.deepEqual(problems, []);
}));
