#!/usr/bin/env node
// The browser scenario of the bench (issue 16, section 4; docs/performance.md
// "The browser"): what a user sees is xterm.js drawing in a browser.
//
//   node bench/browser/term.mjs --bin-dir build [--smoke] [--mib N] [--keys N]
//        [--configs auto@1,auto@2,webgl@1] [--before DIR] [--profile DIR]
//        [--window BYTES]
//
// Runs the real relay (serving the web app it embeds, or CL_E2E_WEB_DIR),
// the real agent and Debian's chromium (headless, through playwright-core
// from tests/e2e/node_modules), signs in and opens the web app's real
// terminal page, then measures in the same run:
//   - raw: `cat` of a file of 80-column lines through a plain WebSocket
//     client (node, protocol v2, acking every 32 KiB as the page does, no
//     drawing): the socket path's throughput, and its keystroke echo;
//   - in the page, for each renderer and device pixel ratio: the time from
//     the Enter key of `cat FILE` (its keydown timestamp) to the first frame
//     xterm.js draws with the file's last line in the viewport (xterm's
//     onRender, through the page's test hook), MB/s, and the page's
//     main-thread busy time meanwhile (CDP Performance.getMetrics
//     TaskDuration);
//   - keystroke to glyph: from the keydown's timestamp to the end of the
//     frame xterm.js draws with the echoed character in it (that includes
//     the page's input handling, the socket, relay, agent, PTY and shell
//     echo and back, parsing and the draw; not the compositor's last step
//     to the screen, the same for every page).
// Prints one JSON object a line on stdout, one per measurement:
// {name, value, unit, target, floor?, floor_ref?, note?}; the bench
// (bench/sc_browser.c) records them. When something it needs is missing
// (chromium, node modules, the web app) it prints one {skip: "why"} line
// and exits 0.
import { existsSync } from 'node:fs';
import { writeFile, mkdtemp, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const SMOKE = argv.includes('--smoke');
const BIN_DIR = path.resolve(opt('--bin-dir', 'build'));
const MIB = Number(opt('--mib', SMOKE ? 1 : 16));
const KEYS = Number(opt('--keys', SMOKE ? 5 : 40));
// "renderer@ratio" pairs; auto is what a user of this machine gets
const CONFIGS = (opt('--configs', SMOKE ? 'auto@1' : 'auto@1,auto@2,webgl@1')).split(',');

// --profile DIR: a CPU profile of the page during each cat (DIR/<config>.cpuprofile,
// for Chrome DevTools) and its heaviest functions by self time on stderr
const PROFILE = opt('--profile', '');
// --window BYTES: the agent's flow-control window (default: the agent's own)
const WINDOW = opt('--window', '');
// --before DIR: also measure the web app built in DIR (an earlier vite
// build), on a second relay and agent, each configuration interleaved
// with the current one: a before/after within one run
const BEFORE = opt('--before', '');
const emit = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const skip = (why) => {
  emit({ skip: why });
  process.exit(0);
};

const CHROMIUM = process.env.CL_CHROMIUM || '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) skip(`no chromium at ${CHROMIUM} (scripts/install-deps installs it)`);
if (!existsSync(path.join(ROOT, 'tests/e2e/node_modules/playwright-core'))) skip('tests/e2e/node_modules is missing (cd tests/e2e && npm ci)');
if (!existsSync(path.join(BIN_DIR, 'clawlink-relay')) || !existsSync(path.join(BIN_DIR, 'clawlink'))) skip(`no relay or agent in ${BIN_DIR}`);

// the harness reads these when it loads
process.env.CL_BIN_DIR = BIN_DIR;
process.env.CL_E2E_LOG_LEVEL ??= 'none'; // the relay's debug log would cost time per frame
const H = await import(pathToFileURL(path.join(ROOT, 'tests/e2e/lib/harness.mjs')));
const B = await import(pathToFileURL(path.join(ROOT, 'tests/e2e/lib/browser.mjs')));

const LINE = 80; // bytes a line in the file, newline included
const MARKER = `CLBENCH-END-${H.randomId(4)}`;

// A file of 80-column lines (numbered, printable ASCII), the marker last.
async function makeFile(dir, mib) {
  const body = [];
  const fill = 'the quick brown fox jumps over the lazy dog 0123456789 ';
  const n = Math.floor((mib << 20) / LINE);
  for (let i = 0; i < n; i++) {
    const head = `${String(i).padStart(8, '0')} `;
    body.push((head + fill.repeat(2)).slice(0, LINE - 1));
  }
  body.push(MARKER);
  const file = path.join(dir, 'big.txt');
  await writeFile(file, `${body.join('\n')}\n`);
  return file;
}

// The socket path alone: cat through a v2 viewer that acks every 32 KiB on
// receipt. Returns {mbps, bytes, ms}.
async function rawCat(relay, u, deviceId, file) {
  const t = await H.openTerminal(relay, u.token, deviceId, { proto: 2, cols: 80, rows: 24 });
  await t.readUntil(/\$ $/, H.ms(15_000));
  // keystroke echo first, at an idle prompt (as the page's keys are)
  const echo = [];
  for (let i = 0; i < KEYS; i++) {
    const ch = 'abcdefghij'[i % 10];
    const a = performance.now();
    t.write(ch);
    await t.readUntil(new RegExp(ch), H.ms(10_000));
    echo.push(performance.now() - a);
  }
  t.write('\x15'); // the line typed is dropped
  await H.sleep(100);
  let got = 0, acked = 0, tail = '', t1 = 0;
  const seen = new Promise((resolve) => {
    t.ws.onMessage((m) => {
      if (!m.binary) return;
      const f = H.decodeBinFrame(m.data);
      if (!f || f.type !== 'stdout') return;
      got += f.payload.length;
      const end = f.offset + f.payload.length;
      if (end - acked >= 32 * 1024) {
        acked = end;
        t.ws.send(H.msg('ack', { session_id: t.sessionId, offset: end }));
      }
      tail = (tail + f.payload.toString('latin1')).slice(-200);
      if (!t1 && tail.includes(MARKER) && /\$ $/.test(tail)) {
        t1 = performance.now();
        resolve();
      }
    });
  });
  // every message so far was replayed to the listener: start counting now
  got = 0;
  const t0 = performance.now();
  t.write(`cat ${file}\n`);
  let timer;
  await Promise.race([seen, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('raw cat did not finish')), H.ms(300_000)); })]);
  clearTimeout(timer);
  const dt = t1 - t0;
  await t.ws.close(1000, 'done');
  return { bytes: got, ms: dt, mbps: got / 1e6 / (dt / 1000), echo };
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};
const pct = (a, p) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * p))] : NaN;
};

// In the page: cat the file, wait for the frame that draws its last line.
async function pageCat(page, cdp, file, sent) {
  await page.evaluate((marker) => {
    const w = window;
    const hook = w.__clawlinkTerm;
    const r = (w.__bench = { t0: 0, t1: 0, frames: 0 });
    const onKey = (e) => {
      if (e.key === 'Enter' && !r.t0) r.t0 = e.timeStamp;
    };
    document.addEventListener('keydown', onKey, { capture: true });
    w.__benchDone = new Promise((resolve) => {
      const off = hook.onRender(() => {
        if (!r.t0) return;
        r.frames++;
        // the lines on screen as this frame drew them
        const lines = hook.text().split('\n');
        if (lines.some((l) => l === marker)) {
          r.t1 = performance.now();
          off();
          document.removeEventListener('keydown', onKey, { capture: true });
          resolve(r);
        }
      });
    });
  }, MARKER);
  const off0 = await page.evaluate(() => window.__clawlinkTerm.offset());
  const acks0 = sent.acks;
  await page.keyboard.type(`cat ${file}`);
  const before = await metrics(cdp);
  await page.keyboard.press('Enter');
  const r = await page.evaluate(() => window.__benchDone);
  const after = await metrics(cdp);
  const off1 = await page.evaluate(() => window.__clawlinkTerm.offset());
  const ms = r.t1 - r.t0;
  const busy = (after.TaskDuration - before.TaskDuration) * 1000;
  const script = (after.ScriptDuration - before.ScriptDuration) * 1000;
  const layout = (after.LayoutDuration - before.LayoutDuration + after.RecalcStyleDuration - before.RecalcStyleDuration) * 1000;
  return { ms, acks: sent.acks - acks0, bytes: off1 - off0, busy, script, layout, frames: r.frames, wall: (after.Timestamp - before.Timestamp) * 1000 };
}

async function metrics(cdp) {
  const { metrics: m } = await cdp.send('Performance.getMetrics');
  return Object.fromEntries(m.map((x) => [x.name, x.value]));
}

// Keystroke to glyph: keydown timestamp to the end of the frame that draws
// the echoed character on the prompt line.
async function pageKeys(page, n) {
  const lat = [];
  let typed = '';
  for (let i = 0; i < n; i++) {
    const ch = 'abcdefghij'[i % 10];
    typed += ch;
    await page.evaluate((want) => {
      const w = window;
      const hook = w.__clawlinkTerm;
      const r = (w.__key = { t0: 0, t1: 0 });
      const onKey = (e) => {
        if (!r.t0) r.t0 = e.timeStamp;
      };
      document.addEventListener('keydown', onKey, { capture: true });
      w.__keyDone = new Promise((resolve) => {
        const off = hook.onRender(() => {
          if (!r.t0) return;
          if (hook.text().split('\n').some((l) => l === want)) {
            r.t1 = performance.now();
            off();
            document.removeEventListener('keydown', onKey, { capture: true });
            resolve(r);
          }
        });
      });
    }, `$ ${typed}`);
    await page.keyboard.press(ch);
    const r = await page.evaluate(() => window.__keyDone);
    lat.push(r.t1 - r.t0);
    await H.sleep(20); // keystrokes as a person types them, one at a time
  }
  await page.keyboard.press('Control+U');
  return lat;
}

// Writes the profile and prints its heaviest functions by self time.
async function saveProfile(cdp, name) {
  const { profile } = await cdp.send('Profiler.stop');
  await mkdir(PROFILE, { recursive: true });
  await writeFile(path.join(PROFILE, `${name}.cpuprofile`), JSON.stringify(profile));
  const self = new Map();
  const dt = profile.timeDeltas;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  let total = 0;
  profile.samples.forEach((id, i) => {
    const n = byId.get(id);
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber}`;
    self.set(key, (self.get(key) || 0) + (dt[i] || 0));
    total += dt[i] || 0;
  });
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25);
  process.stderr.write(`profile ${name}: ${(total / 1000).toFixed(0)} ms sampled\n`);
  for (const [k, v] of top) process.stderr.write(`  ${(v / 1000).toFixed(1).padStart(8)} ms ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}\n`);
}

// What the test library's browser helpers own (the bench has no test
// scope): closed at the end of the run.
const scope = { res: [], add(r) { this.res.push(r); return r; } };

async function main() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clawlink-bench-browser-'));
  try {
    const file = await makeFile(dir, MIB);
    const variants = [{ label: '', webArgs: B.WEB_ARGS }];
    if (BEFORE) variants.push({ label: ' before', webArgs: ['--web-dir', BEFORE] });
    for (const v of variants) {
      v.relay = await H.startRelay({ extraArgs: v.webArgs });
      v.u = await H.signup(v.relay);
      const project = await H.createProject(v.relay, v.u.token, 'Bench');
      v.paired = await H.pairAgent(v.relay, { token: v.u.token, projectId: project.id, name: 'bench-box' });
      await H.startAgent(v.paired.configPath, { relay: v.relay, token: v.u.token, projectId: project.id, deviceId: v.paired.deviceId,
        extraArgs: WINDOW ? ['--window', WINDOW] : [] });
      const home = await fetch(v.relay.url + '/');
      if (!/<script/.test(await home.text())) skip('the relay serves no web app (build web/ first: make web)');
    }
    const { relay, u, paired } = variants[0];

    const browser = await B.launchBrowser(scope);
    const raws = [];
    raws.push(await rawCat(relay, u, paired.deviceId, file));
    const rows = [];
    for (const c of CONFIGS) {
      const [pref, ratio] = c.split('@');
      for (const v of variants) {
        const { context, page, problems } = await B.openPage(scope, browser, v.relay, {
          label: c, viewport: { width: 1100, height: 800 }, deviceScaleFactor: Number(ratio),
        });
        await B.signInContext(context, v.u.email, v.u.password);
        const sent = { acks: 0 }; // the page's ack messages (what the relay sees)
        page.on('websocket', (ws) => ws.on('framesent', (f) => { if (typeof f.payload === 'string' && f.payload.includes('"type":"ack"')) sent.acks++; }));
        await context.addInitScript((p) => localStorage.setItem('clawlink.terminal', JSON.stringify({ renderer: p, fontSize: 14 })), pref);
        await page.goto(`/terminal/${v.paired.deviceId}/new?start=1`);
        await B.waitTermState(page, 'online');
        await B.tid(page, 'terminal').click();
        await B.waitTermLine(page, /^\$ $/);
        await H.sleep(300); // the renderer settles (WebGL loads after a rendering step)
        const renderer = await page.evaluate(() => window.__clawlinkTerm.renderer());
        const cdp = await context.newCDPSession(page);
        await cdp.send('Performance.enable', { timeDomain: 'timeTicks' });
        if (PROFILE) {
          await cdp.send('Profiler.enable');
          await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
          await cdp.send('Profiler.start');
        }
        const cat = await pageCat(page, cdp, file, sent);
        if (PROFILE) await saveProfile(cdp, `${renderer}-dpr${ratio}${v.label.replace(' ', '-')}`);
        await H.sleep(200);
        const keys = await pageKeys(page, KEYS);
        if (problems.length) rows.push({ note: `${c}${v.label}: ${problems.slice(0, 3).join('; ')}` });
        rows.push({ c: `${renderer} dpr${ratio}${v.label}`, cat, keys });
        await context.close();
      }
      raws.push(await rawCat(relay, u, paired.deviceId, file));
    }
    await browser.close();

    const rawBest = Math.max(...raws.map((r) => r.mbps));
    const rawEcho = median(raws.flatMap((r) => r.echo));
    const fix = (v) => Math.round(v * 1000) / 1000;
    emit({ name: 'raw socket cat MB/s (same run)', value: fix(rawBest), unit: 'MB/s', target: 'reference', note: `best of ${raws.length}, ${MIB} MiB` });
    emit({ name: 'raw socket echo p50', value: fix(rawEcho), unit: 'ms', target: 'reference' });
    for (const r of rows) {
      if (r.note) {
        emit({ note: r.note });
        continue;
      }
      const mbps = r.cat.bytes / 1e6 / (r.cat.ms / 1000);
      emit({ name: `cat drawn ${r.c} MB/s`, value: fix(mbps), unit: 'MB/s', target: 'info vs raw', floor: fix(rawBest), floor_ref: 'raw socket cat MB/s (same run)',
        note: `${(r.cat.bytes / 1e6).toFixed(1)} MB in ${(r.cat.ms / 1000).toFixed(2)} s, ${r.cat.frames} frames; ${(mbps / rawBest).toFixed(2)}x raw` });
      emit({ name: `cat drawn ${r.c} main-thread busy`, value: fix(r.cat.busy), unit: 'ms', target: 'info',
        note: `${Math.round((100 * r.cat.busy) / r.cat.wall)}% of ${Math.round(r.cat.wall)} ms (script ${Math.round(r.cat.script)}, style+layout ${Math.round(r.cat.layout)}, other ${Math.round(r.cat.busy - r.cat.script - r.cat.layout)}), ${r.cat.acks} acks` });
      emit({ name: `key to glyph ${r.c} p50`, value: fix(median(r.keys)), unit: 'ms', target: 'info vs raw echo', floor: fix(rawEcho), floor_ref: 'raw socket echo p50' });
      emit({ name: `key to glyph ${r.c} p99`, value: fix(pct(r.keys, 0.99)), unit: 'ms', target: 'info' });
    }
  } finally {
    for (const r of scope.res.reverse()) await Promise.resolve(r.cleanup()).catch(() => {});
    await H.cleanupAll().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    emit({ error: String(e?.stack || e).split('\n').slice(0, 6).join(' | ') });
    process.exit(1);
  },
);
