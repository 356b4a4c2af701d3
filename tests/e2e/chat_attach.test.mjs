// Attachments on send (issue 15, "attach files to messages"; docs/chat.md
// "Attachments") through the real relay, the real agent and a real
// OpenClaw gateway with the fake model: a file uploaded into $HOME with the
// files API is attached to a message by its path; the agent keeps it
// content-addressed beside chat.db (attachments/<sha256>, 0600), records
// it with the message ({id, name, mime, size} in the message JSON, also
// after the transcript's entry adopts the row), and hands it to chat.send,
// which the gateway accepts (the reply comes). Refused with their errors:
// a path outside the allowlist, a missing file, more than
// CL_CHAT_ATTACH_COUNT_MAX, an agent without the files capability.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, chmod, stat, readdir } from 'node:fs/promises';
import crypto from 'node:crypto';
import path from 'node:path';
import {
  e2e, cleanupAll, ms, startRelay, api, expectStatus, signup, createProject,
  pairAgent, startAgent, waitFor, tail, tempDir,
} from './lib/harness.mjs';
import { startFakeModel } from './lib/fake-model.mjs';
import { startGateway, postSse } from './lib/openclaw.mjs';

after(cleanupAll);

const REPLY = 'Thanks for the file; the fake model read nothing of it.';

test('attachments on send: kept beside chat.db, listed with the message, passed to chat.send', { timeout: ms(10 * 60_000) }, e2e(async (t, scope) => {
  const model = await startFakeModel({ reply: REPLY, chunks: 3, delayMs: 20 });
  scope.add({ name: 'fake model', cleanup: () => model.close() });
  const gw = await startGateway(scope, { modelUrl: model.baseUrl });
  const relay = await startRelay();
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token, 'Attach');

  const agentWith = async (caps, name) => {
    const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name });
    const cfg = JSON.parse(await readFile(paired.configPath, 'utf8'));
    cfg.openclaw = { url: gw.url, token: gw.token };
    cfg.capabilities = caps;
    await writeFile(paired.configPath, JSON.stringify(cfg, null, 2));
    await chmod(paired.configPath, 0o600);
    const dbDir = await tempDir('clawlink-chatdb-');
    const agent = await startAgent(paired.configPath, {
      relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId,
      extraArgs: ['--chat-db', path.join(dbDir, 'chat.db')],
    });
    await waitFor(() => /connected to the OpenClaw gateway/.test(agent.logs()), {
      timeout: ms(90_000), what: 'the agent to reach the gateway', describe: () => tail(agent.logs(), 30),
    });
    return { dev: paired.deviceId, agent, dbDir };
  };
  const { dev, agent, dbDir } = await agentWith(['terminal', 'chat', 'files'], 'attach-agent');
  const chat = (method, p, body) => api(relay, method, `/api/v1/devices/${dev}/chat${p}`, body, owner.token);
  const send = (d, threadId, body) => postSse(relay, `/api/v1/devices/${d}/chat/threads/${threadId}/messages`, body, owner.token, { timeout: ms(120_000) });
  const describe = () => `--- agent ---\n${tail(agent.logs(), 30)}\n--- gateway ---\n${tail(gw.logs(), 20)}`;

  const thread = (await chat('POST', '/threads', {})).body;
  const bytes = Buffer.from(`notes for the agent ${crypto.randomBytes(8).toString('hex')}\n`);
  const sha = crypto.createHash('sha256').update(bytes).digest('hex');

  await t.test('a file uploaded, then attached by its path', async () => {
    const up = await chat('PUT', '/files/content', { path: 'notes.txt', offset: 0, data_b64: bytes.toString('base64'), final: true });
    expectStatus(up, 200, relay);
    const r = await send(dev, thread.id, { content: 'Please read the attached notes', attachments: [{ path: 'notes.txt' }] });
    assert.equal(r.status, 200, `send: ${r.status} ${r.text}\n${describe()}`);
    const user = r.events[0].data.message;
    assert.equal(user.attachments.length, 1);
    assert.deepEqual({ ...user.attachments[0], id: 0 }, { id: 0, name: 'notes.txt', mime: 'text/plain', size: bytes.length });
    const done = r.events.at(-1);
    assert.equal(done.event, 'done', `${r.text}\n${describe()}`);
    assert.equal(done.data.message.state, 'final');
    // kept content-addressed beside chat.db, 0600
    const kept = path.join(dbDir, 'attachments', sha);
    assert.deepEqual(await readFile(kept), bytes);
    assert.equal((await stat(kept)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(path.join(dbDir, 'attachments')), [sha], 'no temporary file left');
    // the transcript's entry takes over the row: the attachment stays
    await waitFor(async () => {
      const m = (await chat('GET', `/threads/${thread.id}/messages`)).body.messages;
      return m.length === 2 && m.every((x) => !x.gateway_id.startsWith('run:'));
    }, { timeout: ms(30_000), what: 'the transcript entries to adopt the rows', describe });
    const m = (await chat('GET', `/threads/${thread.id}/messages`)).body.messages;
    // the gateway took it: the model was given the file's text (as
    // "[media attached: media://inbound/notes---….txt]" and a <file> block)
    const seen = JSON.stringify(model.requests.map((q) => q.body?.messages || []));
    assert.ok(seen.includes(bytes.toString().trim()), `the model never saw the file:\n${seen.slice(0, 2000)}`);
    assert.match(seen, /media attached: media:\/\/inbound\/notes/);
    assert.equal(m[0].attachments.length, 1, JSON.stringify(m[0]));
    assert.equal(m[0].attachments[0].name, 'notes.txt');
    assert.deepEqual(m[1].attachments, []);
  });

  await t.test('refused: outside the allowlist, missing, too many, without the files capability', async () => {
    const bad = async (d, attachments, status, code) => {
      const r = await send(d, thread.id, { content: 'x', attachments });
      assert.equal(r.status, status, `${JSON.stringify(attachments)}: ${r.status} ${r.text}`);
      assert.equal(r.body?.error?.code, code, r.text);
    };
    await bad(dev, [{ path: '/etc/passwd' }], 403, 'forbidden_path');
    await bad(dev, [{ path: '../x' }], 400, 'bad_path');
    await bad(dev, [{ path: 'nothing.txt' }], 404, 'not_found');
    await bad(dev, [1], 400, 'bad_request');
    await bad(dev, Array.from({ length: 5 }, () => ({ path: 'notes.txt' })), 413, 'too_large');
    const other = await agentWith(['terminal', 'chat'], 'no-files-agent');
    const th = (await api(relay, 'POST', `/api/v1/devices/${other.dev}/chat/threads`, {}, owner.token)).body;
    const r = await send(other.dev, th.id, { content: 'x', attachments: [{ path: 'notes.txt' }] });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.error.code, 'capability_denied');
    // nothing was stored for the refused sends
    const m = (await chat('GET', `/threads/${thread.id}/messages`)).body.messages;
    assert.equal(m.length, 2);
  });
}));
