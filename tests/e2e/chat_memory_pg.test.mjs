// Memory notes in PostgreSQL (issue 15; docs/chat.md "Memory providers"):
// the real agent configured with memory_provider "postgres" keeps the
// notes it is given through the relay in a REAL PostgreSQL server this
// file starts (lib/postgres.mjs), not in its chat store; search ranks and
// marks them; delete removes the row; the URL's password never reaches a
// log; with the server stopped, memory answers 502 memory_unreachable
// while the rest of the chat API keeps working, and it recovers when the
// server is back.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, chmod, readdir } from 'node:fs/promises';
import path from 'node:path';
import {
  e2e, cleanupAll, ms, startRelay, api, expectStatus, signup, createProject,
  pairAgent, startAgent, waitFor, tail, tempDir, assertNoSecrets, randomId,
} from './lib/harness.mjs';
import { startPostgres } from './lib/postgres.mjs';

after(cleanupAll);

test('memory notes live in PostgreSQL, never in the chat store', { timeout: ms(240_000) }, e2e(async (t, scope) => {
  const pg = await startPostgres();
  scope.add({ name: 'postgres', logs: pg.logs, cleanup: () => pg.close() });
  const relay = await startRelay();
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token, 'Memory');
  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name: 'mem-agent' });
  // trust authentication ignores the password, so the URL can carry one
  // that must never show in a log
  const password = `pw-${randomId(12)}`;
  const cfg = JSON.parse(await readFile(paired.configPath, 'utf8'));
  cfg.capabilities = ['terminal', 'chat'];
  cfg.memory_provider = 'postgres';
  cfg.memory_pg_url = `${pg.url}&password=${password}`;
  await writeFile(paired.configPath, JSON.stringify(cfg, null, 2));
  await chmod(paired.configPath, 0o600);
  const dbDir = await tempDir('clawlink-chatdb-');
  const chatDb = path.join(dbDir, 'clawlink', 'chat.db');
  const dev = paired.deviceId;
  const agent = await startAgent(paired.configPath, {
    relay, token: owner.token, projectId: project.id, deviceId: dev, extraArgs: ['--chat-db', chatDb],
  });
  const describe = () => [agent, relay].map((p) => `--- ${p.name} ---\n${tail(p.logs(), 30)}`).join('\n') +
    `\n--- postgres ---\n${tail(pg.logs(), 20)}`;
  const chat = (method, p, body) => api(relay, method, `/api/v1/devices/${dev}/chat${p}`, body, owner.token);
  await waitFor(async () => (await chat('GET', '/memory')).status === 200, {
    timeout: ms(30_000), what: 'the agent to serve chat with PostgreSQL memory', describe,
  });
  assert.match(agent.logs(), /memory notes kept in PostgreSQL/);
  // libpq is loaded because this provider was chosen (decisions 61)
  assert.match(await readFile(`/proc/${agent.proc.pid}/maps`, 'utf8'), /libpq\.so\.5/);

  // a thread to be the notes' source
  const th = await chat('POST', '/threads', { title: 'ops' });
  expectStatus(th, 201, relay);
  const secretWord = `zanzibar${randomId(4)}`;
  const a = await chat('POST', '/memory', { text: `The deploy key is kept in vault path ${secretWord}/deploy`, tags: 'ops keys', source_thread_id: th.body.id });
  expectStatus(a, 201, relay);
  const b = await chat('POST', '/memory', { text: 'Lunch is at noon on Fridays', tags: 'life' });
  expectStatus(b, 201, relay);
  // a source thread that does not exist: refused, nothing written
  const bad = await chat('POST', '/memory', { text: 'orphan note', source_thread_id: 987654 });
  assert.equal(bad.status, 404, JSON.stringify(bad.body));
  // over the note limit: refused with the limit named
  const big = await chat('POST', '/memory', { text: 'x'.repeat(16 * 1024 + 1) });
  assert.equal(big.status, 413, JSON.stringify(big.body));

  // the rows are PostgreSQL's
  const rows = (await pg.psql('SELECT count(*) FROM clawlink_memory_notes')).trim();
  assert.equal(rows, '2');
  const srcRow = (await pg.psql(`SELECT source_thread_id FROM clawlink_memory_notes WHERE text LIKE '%${secretWord}%'`)).trim();
  assert.equal(srcRow, String(th.body.id));

  const list = await chat('GET', '/memory?limit=1');
  expectStatus(list, 200, relay);
  assert.equal(list.body.notes.length, 1);
  assert.equal(list.body.has_more, true);
  assert.equal(list.body.notes[0].text, 'Lunch is at noon on Fridays');

  const found = await chat('GET', `/memory/search?q=${encodeURIComponent(`vault ${secretWord}`)}`);
  expectStatus(found, 200, relay);
  assert.equal(found.body.hits.length, 1, JSON.stringify(found.body));
  assert.equal(found.body.hits[0].id, a.body.id);
  assert.match(found.body.hits[0].snippet, /\[\[vault\]\]/);
  // what a person types is never query syntax
  const syntax = await chat('GET', `/memory/search?q=${encodeURIComponent('a & b | !c :* (')}`);
  expectStatus(syntax, 200, relay);

  // nothing of the notes is in the chat store's files
  for (const f of await readdir(path.dirname(chatDb))) {
    if (!f.startsWith('chat.db')) continue;
    const bytes = await readFile(path.join(path.dirname(chatDb), f));
    assert.equal(bytes.includes(secretWord), false, `${f} holds a note's text`);
  }

  // the server goes away: memory says so, the rest of chat goes on
  await pg.stop();
  await waitFor(async () => (await chat('POST', '/memory', { text: 'while down' })).status === 502, {
    timeout: ms(30_000), what: 'memory to answer 502 with the server stopped', describe,
  });
  const down = await chat('GET', '/memory');
  assert.equal(down.status, 502);
  assert.equal(down.body.error.code, 'memory_unreachable');
  expectStatus(await chat('GET', '/threads'), 200, relay);
  // and comes back (the provider reconnects with backoff, at most 30 s)
  await pg.start();
  await waitFor(async () => (await chat('GET', '/memory')).status === 200, {
    timeout: ms(60_000), what: 'memory to recover once the server is back', describe,
  });

  const del = await chat('DELETE', `/memory/${a.body.id}`);
  assert.equal(del.status, 204, JSON.stringify(del.body));
  assert.equal((await pg.psql('SELECT count(*) FROM clawlink_memory_notes')).trim(), '1');
  assert.equal((await chat('DELETE', `/memory/${a.body.id}`)).status, 404);

  assertNoSecrets(agent, [password], 'agent');
  assertNoSecrets(relay, [password, secretWord], 'relay');
}));
