/**
 * A fake OpenAI-compatible model server on loopback, for tests that drive
 * a real OpenClaw gateway without a real model.
 *
 *   GET  /v1/models            one model, `fake-1`
 *   POST /v1/chat/completions  streams `reply` in `chunks` pieces (SSE
 *                              `data: {choices:[{delta:{content}}]}` lines,
 *                              then `data: [DONE]`), `delayMs` apart;
 *                              non-streaming requests get the whole reply.
 *
 * Usage: const m = await startFakeModel({ reply, chunks, delayMs });
 *        m.baseUrl (http://127.0.0.1:PORT/v1), m.requests, m.state (reply,
 *        chunks, delayMs: change them between requests), await m.close().
 * Standalone: node fake-model.mjs PORT "reply text"  (for manual runs).
 */
import http from 'node:http';

export const FAKE_MODEL_ID = 'fake-1';

/** Splits text into n pieces of near-equal length (none empty). */
export function splitReply(text, n) {
  const pieces = [];
  const size = Math.max(1, Math.ceil(text.length / n));
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  return pieces;
}

export async function startFakeModel({ reply = 'Hello from the fake model.', chunks = 5, delayMs = 30, port = 0 } = {}) {
  const requests = [];
  const sockets = new Set();
  const state = { reply, chunks, delayMs };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', async () => {
      const url = new URL(req.url, 'http://x');
      let parsed = null;
      try { parsed = body ? JSON.parse(body) : null; } catch { /* not JSON */ }
      requests.push({ method: req.method, path: url.pathname, body: parsed });
      if (req.method === 'GET' && url.pathname.endsWith('/models')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: FAKE_MODEL_ID, object: 'model', created: 0, owned_by: 'fake' }] }));
        return;
      }
      if (req.method === 'POST' && url.pathname.endsWith('/chat/completions')) {
        const id = `chatcmpl-${requests.length}`;
        const created = Math.floor(Date.now() / 1000);
        if (!parsed?.stream) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({
            id, object: 'chat.completion', created, model: FAKE_MODEL_ID,
            choices: [{ index: 0, message: { role: 'assistant', content: state.reply }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
          }));
          return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        const send = (obj) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
        const base = { id, object: 'chat.completion.chunk', created, model: FAKE_MODEL_ID };
        send({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
        for (const piece of splitReply(state.reply, state.chunks)) {
          await new Promise((r) => setTimeout(r, state.delayMs));
          send({ ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] });
        }
        send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
        send({ ...base, choices: [], usage: { prompt_tokens: 1, completion_tokens: state.chunks, total_tokens: 1 + state.chunks } });
        res.write('data: [DONE]\n\n');
        res.end();
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${url.pathname}` } }));
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actual = server.address().port;
  return {
    port: actual,
    baseUrl: `http://127.0.0.1:${actual}/v1`,
    requests,
    state,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const m = await startFakeModel({ port: Number(process.argv[2]) || 0, reply: process.argv[3] || undefined });
  console.log(`fake model on ${m.baseUrl}`);
}
