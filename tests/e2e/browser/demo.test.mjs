// `make run`'s demo as a newcomer sees it: scripts/run-demo with the build
// directory, a free loopback port and an empty data directory starts the
// relay, pairs this machine's agent as the demo device and prints a
// one-time sign-in link. Opened in the browser, the link signs in to a
// dashboard with the demo device online; its terminal runs
// `echo $((6*7))` → 42. A second run on the same data prints a new link
// that works too, and the device comes back online with its saved config.
// Every process the script starts (relay, agent, the agent's shells) is
// gone after Ctrl-C (SIGINT to its process group, as a terminal sends it).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  e2e, cleanupAll, ms, waitFor, tempDir, freePort, randomId, BIN_DIR, SANITIZED, tail, loginLink,
} from '../lib/harness.mjs';
import { own, taggedProcesses, checkSanitizerText } from '../lib/extra.mjs';
import { launchBrowser, openPage, screenshot, tid, openTerminalAndEcho } from '../lib/browser.mjs';

after(cleanupAll);

const RUN_DEMO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'scripts', 'run-demo');
const LINK_RE = /(http:\/\/127\.0\.0\.1:\d+\/auth#one-time=[A-Za-z0-9_-]+)/;

const groupAlive = (pgid) => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Starts scripts/run-demo BIN_DIR 127.0.0.1:port dataDir in its own
 * process group and waits for the sign-in link it prints. Owned by the
 * scope: stopped with SIGINT to the group (Ctrl-C), SIGKILL if anything is
 * left; the agent's shells (found by their tag) too.
 */
async function runDemo(scope, { port, dataDir, home, tag }) {
  const env = {
    PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: home,
    SHELL: '/bin/bash',
    TERM: 'xterm-256color',
    CLAWLINK_E2E_TAG: tag, // inherited by the relay, the agent and its shells
  };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'ASAN_SYMBOLIZER_PATH', 'LLVM_SYMBOLIZER_PATH']) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  if (SANITIZED && env.UBSAN_OPTIONS === undefined) env.UBSAN_OPTIONS = 'print_stacktrace=1';
  const proc = spawn(RUN_DEMO, [BIN_DIR, `127.0.0.1:${port}`, dataDir], { env, cwd: home, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
  const pgid = proc.pid;
  const demo = {
    proc,
    exited,
    stdout: () => out,
    logs: () => `${err}\n[stdout]\n${out}`,
    stopped: false,
    /** Ctrl-C: SIGINT to the group; everything must be gone. */
    async stop() {
      if (demo.stopped) return demo.result;
      demo.stopped = true;
      if (proc.exitCode === null && proc.signalCode === null) {
        try { process.kill(-pgid, 'SIGINT'); } catch { /* gone */ }
      }
      const t = setTimeout(() => { try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ } }, ms(15_000));
      demo.result = await exited;
      clearTimeout(t);
      const left = [];
      await waitFor(async () => !groupAlive(pgid) && (await taggedProcesses(tag)).length === 0, { timeout: ms(10_000), what: 'no process left' })
        .catch(async () => {
          left.push(...(await taggedProcesses(tag)).map((p) => `${p.pid} ${p.comm}`));
          try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ }
          for (const p of await taggedProcesses(tag)) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
        });
      checkSanitizerText(demo.logs(), 'run-demo (relay)');
      checkSanitizerText(await readFile(path.join(dataDir, 'demo-agent', 'agent.log'), 'utf8').catch(() => ''), 'the demo agent');
      if (left.length) throw new Error(`after Ctrl-C, processes of the demo are still running (killed now): ${left.join(', ')}\n${tail(demo.logs(), 30)}`);
      return demo.result;
    },
  };
  process.once('exit', () => { try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ } });
  own(scope, { name: `run-demo :${port}`, logs: demo.logs, cleanup: () => demo.stop() });
  await waitFor(() => {
    if (proc.exitCode !== null || proc.signalCode !== null) throw Object.assign(new Error('run-demo exited'), { fatal: true });
    return LINK_RE.test(out);
  }, { timeout: ms(45_000), what: 'run-demo to print the one-time link', describe: () => tail(demo.logs(), 40) });
  demo.link = LINK_RE.exec(out)[1];
  return demo;
}


// The newcomer's path: link → dashboard → project "Demo" → the demo device
// online → open a terminal → 42.
async function clickThrough(scope, browser, demo, label, shot) {
  const relay = { url: new URL(demo.link).origin };
  const { page, problems } = await openPage(scope, browser, relay, { label });
  await page.goto(demo.link);
  await page.waitForURL(/\/dashboard$/);
  assert.ok(!page.url().includes('one-time'), `the code left the address bar: ${page.url()}`);
  const card = tid(page, 'project-card').filter({ hasText: 'Demo' });
  await card.waitFor();
  await card.locator('[data-testid="device-status"][data-status="online"]').first().waitFor({ timeout: ms(30_000) });
  if (shot) await screenshot(page, shot);
  await card.getByRole('link', { name: 'Demo' }).first().click();
  await page.waitForURL(/\/project\//);
  const row = tid(page, 'device-row').first();
  await row.locator('[data-testid="device-status"]').filter({ hasText: /online/i }).waitFor({ timeout: ms(30_000) });
  await openTerminalAndEcho(page, row);
  return { page, problems };
}

test('make run\'s demo: the printed one-time link, the demo device, a terminal; a second run prints a new link', { timeout: ms(4 * 60_000) }, e2e(async (t, scope) => {
  const dataDir = path.join(await tempDir('clawlink-demo-data-'), 'var');
  const home = await tempDir('clawlink-demo-home-');
  const port = await freePort();
  const tag = `clawlink-e2e-demo-${randomId()}`;
  const browser = await launchBrowser(scope);

  const first = await runDemo(scope, { port, dataDir, home, tag });
  assert.match(first.stdout(), new RegExp(`clawlink is running at http://127\\.0\\.0\\.1:${port}`));
  const a = await clickThrough(scope, browser, first, 'first run', '60-demo-dashboard');
  await screenshot(a.page, '61-demo-terminal');

  // The demo user's password is random and never shown: once its link is
  // used, the way back in is a new link from `clawlink-relay login-link`
  // (make login), on this machine, while the relay runs.
  const again = await openPage(scope, browser, { url: `http://127.0.0.1:${port}` }, { label: 'used link' });
  await again.page.goto(first.link);
  await tid(again.page, 'one-time-error').waitFor();
  assert.match(await tid(again.page, 'one-time-error').textContent(), /new link on the relay's machine: make login/, 'the used link says how to get a new one');
  const ll = await loginLink(['--data', dataDir, '--listen', `127.0.0.1:${port}`]);
  assert.equal(ll.code, 0, ll.stderr);
  const fresh = LINK_RE.exec(ll.stdout)?.[1];
  assert.ok(fresh && fresh !== first.link, `login-link printed a new link: ${ll.stdout}`);
  await again.page.goto(fresh);
  await again.page.waitForURL(/\/dashboard$/);
  await tid(again.page, 'project-card').filter({ hasText: 'Demo' }).waitFor();
  assert.ok(!(await readFile(path.join(dataDir, 'relay.log'), 'utf8')).includes(fresh.split('=')[1]), 'the code is not in the relay log');

  // Ctrl-C: the relay, the agent and the shell are gone, and run-demo exits 0.
  const r1 = await first.stop();
  assert.deepEqual(r1, { code: 0, signal: null }, `run-demo stopped by Ctrl-C: ${JSON.stringify(r1)}`);

  // Used already: the first link does not sign in on the second run.
  const second = await runDemo(scope, { port, dataDir, home, tag });
  assert.notEqual(second.link, first.link, 'every run prints a new link');
  const stale = await openPage(scope, browser, { url: `http://127.0.0.1:${port}` }, { label: 'old link' });
  await stale.page.goto(first.link);
  await tid(stale.page, 'one-time-error').waitFor();
  const b = await clickThrough(scope, browser, second, 'second run');
  await second.stop();

  assert.deepEqual([...a.problems, ...again.problems, ...stale.problems, ...b.problems], [], 'no page errors, console errors or CSP violations');
}));

// `make run` as a newcomer types it, on a terminal (script(1) gives it a
// pty; a Ctrl-C byte written to the pty is what the terminal sends): the
// build says one line (the compiler's output goes to a file), the banner is
// the last thing printed (the relay's log goes to DATA/relay.log), and
// Ctrl-C ends make with status 0 and no "Error 130". The build directory is
// the one under test, already built (make's deps and web steps are skipped
// with -o: their own targets, not what this checks).
test('make run on a terminal: one build line, the banner last (URL, link, new link, pairing, stop), Ctrl-C exits 0 without "Error 130"', { timeout: ms(3 * 60_000) }, e2e(async (t, scope) => {
  const root = path.resolve(path.dirname(RUN_DEMO), '..');
  const dataDir = path.join(await tempDir('clawlink-make-run-'), 'var');
  const home = await tempDir('clawlink-make-run-home-');
  const port = await freePort();
  const tag = `clawlink-e2e-make-run-${randomId()}`;
  const env = { PATH: process.env.PATH, LANG: 'C.UTF-8', HOME: home, SHELL: '/bin/bash', TERM: 'xterm-256color', CLAWLINK_E2E_TAG: tag };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'ASAN_SYMBOLIZER_PATH', 'LLVM_SYMBOLIZER_PATH']) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  const cmd = `make -o deps -o web run BUILD='${BIN_DIR}' LISTEN=127.0.0.1:${port} DATA='${dataDir}'`;
  const proc = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: root, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
  own(scope, {
    name: 'make run on a pty',
    logs: () => out,
    cleanup: async () => {
      if (proc.exitCode === null && proc.signalCode === null) try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
      for (const p of await taggedProcesses(tag)) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    },
  });
  const text = () => out.replace(/\r\n/g, '\n');
  await waitFor(() => {
    if (proc.exitCode !== null) throw Object.assign(new Error('make run exited'), { fatal: true });
    return /Stop:\s+Ctrl-C\n\n/.test(text());
  }, { timeout: ms(90_000), what: 'make run to print its banner', describe: () => tail(text(), 40) });
  const link = LINK_RE.exec(text())?.[1];
  assert.ok(link, text());
  // the link works: the relay runs and the code signs in
  const r = await fetch(`http://127.0.0.1:${port}/api/v1/auth/one-time`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code: link.split('one-time=')[1] }),
  });
  assert.equal(r.status, 200, await r.text());

  proc.stdin.write('\x03'); // Ctrl-C on the terminal
  const res = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve(null), ms(30_000)))]);
  const all = text();
  assert.ok(res, `make run did not end on Ctrl-C:\n${tail(all, 30)}`);
  assert.equal(res.code, 0, `make run's status after Ctrl-C:\n${tail(all, 30)}`);
  assert.doesNotMatch(all, /Error \d+|Interrupt|\*\*\*/, `make reported a failure:\n${tail(all, 30)}`);
  assert.match(all, /clawlink stopped\./);

  // before the banner: the one build line; after it: nothing but Ctrl-C's echo and the goodbye
  const [before, rest] = all.split(/\n\s*clawlink is running at /);
  assert.ok(rest, all);
  const pre = before.split('\n').filter((l) => l.trim());
  assert.deepEqual(pre.map((l) => l.replace(/\(log: [^)]*\)/, '(log)')), ['make: building clawlink-relay and clawlink (log)'], `what make run printed before the banner:\n${before}`);
  const [banner, after] = rest.split(/Stop:\s+Ctrl-C\n/);
  assert.deepEqual(after.split('\n').map((l) => l.trim()).filter((l) => l && l !== '^C'), ['clawlink stopped.'], `after the banner:\n${after}`);
  assert.match(banner, new RegExp(`^http://127\\.0\\.0\\.1:${port}\\n`));
  assert.ok(banner.includes(link), 'the sign-in link');
  assert.match(banner, new RegExp(`make login LISTEN=127\\.0\\.0\\.1:${port} DATA=`), 'how to get another link');
  assert.match(banner, /Pair another machine:/);
  assert.match(banner, /Demo device:\s+this machine, in project "Demo", online/);
  assert.ok(banner.split('\n').length <= 20, `a short banner:\n${banner}`);
  await waitFor(async () => (await taggedProcesses(tag)).length === 0, { timeout: ms(10_000), what: 'the relay, the agent and its shells gone' });
  checkSanitizerText(await readFile(path.join(dataDir, 'relay.log'), 'utf8'), 'the relay (make run)');
}));
