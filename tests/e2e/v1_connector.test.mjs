// Wire compatibility: a PrivaClaw protocol-v1 connector and browser, written
// here from seed 001 (Appendix B) with nothing of ours (raw fetch, raw ws),
// must work against clawlink-relay unchanged. The harness only starts the
// relay and creates the user, project and device, as the web app would.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { e2e, cleanupAll, TEST_TIMEOUT, ms, startRelay, signup, createProject, createDevice } from './lib/harness.mjs';

after(cleanupAll);

/** A minimal v1 peer: JSON envelopes in, a mailbox of parsed messages out. */
class V1Socket {
  constructor(url, name) {
    this.name = name;
    this.inbox = [];
    this.waiting = [];
    this.ws = new WebSocket(url);
    this.ws.on('message', (raw, isBinary) => {
      assert.equal(isBinary, false, `${name}: v1 frames are text`);
      const m = JSON.parse(raw.toString());
      const i = this.waiting.findIndex((w) => w.type === m.type);
      if (i >= 0) {
        const [w] = this.waiting.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(m);
      } else this.inbox.push(m);
    });
    this.closed = new Promise((r) => this.ws.on('close', (code, reason) => r({ code, reason: String(reason) })));
    this.ws.on('error', () => {});
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
  }
  send(type, data) { this.ws.send(JSON.stringify(data === undefined ? { type } : { type, data })); }
  next(type, timeout = ms(10_000)) {
    const i = this.inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = { type, resolve };
      w.timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(w), 1);
        reject(new Error(`${this.name}: no "${type}" within ${timeout} ms; unread: ${JSON.stringify(this.inbox).slice(0, 800)}`));
      }, timeout);
      this.waiting.push(w);
    });
  }
  close() { this.ws.terminate(); }
}

test('a PrivaClaw v1 connector and browser work against clawlink-relay unchanged', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const user = await signup(relay);
  const project = await createProject(relay, user.token);
  const { pairing_code } = await createDevice(relay, user.token, project.id, 'v1 box');
  const apiBase = `${relay.url}/functions/v1`;
  const sockets = [];
  try {
    // --- connector: pair (PrivaClaw sends the anon key headers; they are ignored)
    const pr = await fetch(`${apiBase}/pair-device`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer some-anon-key', apikey: 'some-anon-key' },
      body: JSON.stringify({ pairing_code, name: 'v1 box' }),
    });
    const pairText = await pr.text();
    assert.equal(pr.status, 200, `pair-device: ${pairText}`);
    const cfg = JSON.parse(pairText);
    for (const k of ['device_id', 'token', 'relay_url']) assert.equal(typeof cfg[k], 'string', `pair-device.${k}: ${pairText}`);
    assert.match(cfg.relay_url, /^wss?:\/\//, `relay_url: ${pairText}`);
    assert.doesNotMatch(cfg.relay_url, /\/connect$/, `relay_url without /connect: ${pairText}`);

    // --- connector: connect and hello
    const conn = new V1Socket(`${cfg.relay_url.replace(/\/$/, '')}/connect`, 'v1 connector');
    sockets.push(conn);
    await conn.opened;
    conn.send('hello', { device_id: cfg.device_id, token: cfg.token, meta: { name: 'v1 box' } });
    const hok = await conn.next('hello_ok');
    assert.equal(hok.type, 'hello_ok');

    // --- browser: start-session (edge function) + /session auth
    const sr = await fetch(`${apiBase}/start-session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${user.token}`, apikey: 'some-anon-key' },
      body: JSON.stringify({ device_id: cfg.device_id }),
    });
    const srText = await sr.text();
    assert.equal(sr.status, 200, `start-session: ${srText}`);
    const { session_id } = JSON.parse(srText);
    assert.equal(typeof session_id, 'string', srText);

    const br = new V1Socket(`${relay.wsUrl}/session`, 'v1 browser');
    sockets.push(br);
    await br.opened;
    br.send('auth', { token: user.token, session_id, device_id: cfg.device_id });
    await br.next('auth_ok');
    br.send('session_start', { session_id, cols: 120, rows: 40 });

    // --- connector gets session_start with the size, spawns "a PTY"
    const ss = await conn.next('session_start');
    assert.equal(ss.data.session_id, session_id, JSON.stringify(ss));
    assert.equal(ss.data.cols, 120, JSON.stringify(ss));
    assert.equal(ss.data.rows, 40, JSON.stringify(ss));
    conn.send('session_started', { session_id });
    const started = await br.next('session_started');
    assert.equal(started.data.session_id, session_id, JSON.stringify(started));

    // --- keystrokes down, output up
    br.send('stdin', { session_id, data_b64: Buffer.from('ls -la\r').toString('base64') });
    const si = await conn.next('stdin');
    assert.equal(si.data.session_id, session_id, JSON.stringify(si));
    assert.equal(Buffer.from(si.data.data_b64, 'base64').toString(), 'ls -la\r');
    const bytes = Buffer.from([0x1b, 0x5b, 0x33, 0x32, 0x6d, 0xe2, 0x9c, 0x93, 0x00, 0xff, 0x0d, 0x0a]); // not valid UTF-8 on purpose
    conn.send('stdout', { session_id, data_b64: bytes.toString('base64') });
    const so = await br.next('stdout');
    assert.equal(so.data.session_id, session_id, JSON.stringify(so));
    assert.equal(Buffer.from(so.data.data_b64, 'base64').equals(bytes), true, `bytes intact: ${JSON.stringify(so)}`);

    // --- resize is forwarded; ping is answered
    br.send('resize', { session_id, cols: 100, rows: 30 });
    const rz = await conn.next('resize');
    assert.deepEqual({ s: rz.data.session_id, c: rz.data.cols, r: rz.data.rows }, { s: session_id, c: 100, r: 30 });
    br.send('ping');
    await br.next('pong');

    // --- the shell exits: connector says session_end {reason: exit} (no exit_code in v1)
    conn.send('session_end', { session_id, reason: 'exit' });
    const end = await br.next('session_end');
    assert.equal(end.data.session_id, session_id, JSON.stringify(end));
    assert.equal(end.data.reason, 'exit', JSON.stringify(end));

    // --- a second session: no size in session_start → 80x24; the browser ends it
    const sr2 = await fetch(`${apiBase}/start-session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${user.token}` },
      body: JSON.stringify({ device_id: cfg.device_id }),
    });
    assert.equal(sr2.status, 200);
    const { session_id: s2 } = await sr2.json();
    const br2 = new V1Socket(`${relay.wsUrl}/session`, 'v1 browser 2');
    sockets.push(br2);
    await br2.opened;
    br2.send('auth', { token: user.token, session_id: s2, device_id: cfg.device_id });
    await br2.next('auth_ok');
    br2.send('session_start', { session_id: s2 });
    const ss2 = await conn.next('session_start');
    assert.equal(ss2.data.session_id, s2, JSON.stringify(ss2));
    // protocol.md: a browser may omit the size; the relay then sends 80×24
    assert.deepEqual([ss2.data.cols, ss2.data.rows], [80, 24], `default size: ${JSON.stringify(ss2)}`);
    conn.send('session_started', { session_id: s2 });
    await br2.next('session_started');
    br2.send('session_end', { session_id: s2, reason: 'user_disconnect' });
    const e2 = await conn.next('session_end');
    assert.equal(e2.data.session_id, s2, JSON.stringify(e2));
    assert.equal(typeof e2.data.reason, 'string', JSON.stringify(e2));

    // the connector is still connected and fine
    assert.equal(conn.ws.readyState, WebSocket.OPEN, 'connector still connected');
  } finally {
    for (const s of sockets) s.close();
  }
}));

test('v1: a second browser on a running session gets session_started at once; start is not forwarded again', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const user = await signup(relay);
  const project = await createProject(relay, user.token);
  const { pairing_code } = await createDevice(relay, user.token, project.id, 'v1 box');
  const sockets = [];
  try {
    const pr = await fetch(`${relay.url}/functions/v1/pair-device`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ pairing_code, name: 'v1 box' }),
    });
    assert.equal(pr.status, 200);
    const cfg = await pr.json();
    const conn = new V1Socket(`${cfg.relay_url.replace(/\/$/, '')}/connect`, 'v1 connector');
    sockets.push(conn);
    await conn.opened;
    conn.send('hello', { device_id: cfg.device_id, token: cfg.token, meta: { name: 'v1 box' } });
    await conn.next('hello_ok');

    const sr = await fetch(`${relay.url}/functions/v1/start-session`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${user.token}` },
      body: JSON.stringify({ device_id: cfg.device_id }),
    });
    assert.equal(sr.status, 200);
    const { session_id } = await sr.json();
    const open = async (name) => {
      const b = new V1Socket(`${relay.wsUrl}/session`, name);
      sockets.push(b);
      await b.opened;
      b.send('auth', { token: user.token, session_id, device_id: cfg.device_id });
      await b.next('auth_ok');
      b.send('session_start', { session_id, cols: 90, rows: 30 });
      return b;
    };
    const b1 = await open('browser 1');
    await conn.next('session_start');
    conn.send('session_started', { session_id });
    await b1.next('session_started');

    const b2 = await open('browser 2');
    const st2 = await b2.next('session_started');
    assert.equal(st2.data.session_id, session_id);
    // both viewers see the output
    conn.send('stdout', { session_id, data_b64: Buffer.from('both\r\n').toString('base64') });
    for (const b of [b1, b2]) assert.equal(Buffer.from((await b.next('stdout')).data.data_b64, 'base64').toString(), 'both\r\n');
    // a marker after b2's session_start: nothing but stdin came before it
    b2.send('stdin', { session_id, data_b64: Buffer.from('m').toString('base64') });
    await conn.next('stdin');
    assert.deepEqual(conn.inbox.filter((m) => m.type === 'session_start'), [], 'session_start was not forwarded a second time');
  } finally {
    for (const s of sockets) s.close();
  }
}));
