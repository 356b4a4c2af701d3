#!/usr/bin/env node
// relay_graph: the relay core's modules must form a graph without cycles
// (docs/decisions.md, "the relay's core is layered"). A module is X.c with
// its header X.h (relay.h has no .c). X depends on Y when X.c or X.h
// includes relay/Y.h, or X.c names a function or variable that Y.c
// defines. It also fails when a core header declares a function its own
// .c does not define (conn.h's sends living in server.c made conn and
// everything that sends depend on server.c without an include saying so).
//
// Usage: node tests/tools/relay_graph.mjs [SRC_RELAY_DIR] [--dot] [--all]
// (--all: the graph of every relay module, not only the core's)
// Exit 0: no cycle; 1: a cycle or a misplaced definition (printed).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const DOT = args.includes('--dot');
const DIR = path.resolve(args.find((a) => !a.startsWith('--')) || path.join(HERE, '..', '..', 'src', 'relay'));

// The relay's core: its connections and the modules that route through them.
const CORE = ['relay', 'conn', 'server', 'hub', 'events', 'nodes', 'chat', 'http', 'liveness', 'pending', 'router', 'router_local'];
// Files that are part of another module: the API's route handlers are the
// HTTP API's parts (http.c dispatches to their route tables through
// http.h, they answer through it), so api_X.c counts as http. The hub's
// halves (hub_agent.c, hub_viewer.c, hub_internal.h) are the hub's parts
// while they still share its live-session state.
const PART_OF = (file) => {
  if (/^api_[a-z_]+\.c$/.test(file)) return 'http';
  if (/^hub_(agent|viewer|internal)\.[ch]$/.test(file)) return 'hub';
  return null;
};
const ALL = args.includes('--all'); // every relay module, not only the core

function read(file) {
  try {
    return fs.readFileSync(path.join(DIR, file), 'utf8');
  } catch {
    return null;
  }
}

// Comments and string literals out: only code names things.
function code(text) {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/\/\/[^\n]*/g, ' ')
    .replace(/"(?:[^"\\\n]|\\.)*"/g, '""')
    .replace(/'(?:[^'\\\n]|\\.)*'/g, "''");
}

function includes(text) {
  return [...text.matchAll(/^\s*#\s*include\s+"relay\/([a-z_]+)\.h"/gm)].map((m) => m[1]);
}

// Names a file defines (.c) or declares (.h) at file scope: a line that
// starts at column 0, is not static, typedef, extern-less macro or
// control, and whose declarator is cl_NAME followed by ( = or [. In a .c
// file, a definition: the statement reaches { or = before ;.
function topNames(src, wantDefinitions) {
  const out = new Set();
  const re = /^(?!static\b|typedef\b|#|return\b|extern\b|struct\s+\w+\s*\{|enum\b|union\b)[A-Za-z_][\w \t*]*?\b(cl_[A-Za-z0-9_]+)\s*([(=[])/gm;
  for (const m of src.matchAll(re)) {
    const rest = src.slice(m.index + m[0].length - 1);
    const semi = rest.indexOf(';');
    const brace = rest.indexOf('{');
    const isDef = m[2] === '=' || (brace >= 0 && (semi < 0 || brace < semi));
    if (wantDefinitions ? isDef : !isDef) out.add(m[1]);
  }
  return out;
}

// Extern declarations in headers (variables: `extern const struct x cl_y;`).
function externNames(src) {
  return new Set([...src.matchAll(/^extern\b[^;]*?\b(cl_[A-Za-z0-9_]+)\s*(?:\[[^\]]*\])?\s*;/gm)].map((m) => m[1]));
}

const files = fs.readdirSync(DIR).filter((f) => /\.[ch]$/.test(f));
const moduleOf = (file) => PART_OF(file) || file.replace(/\.[ch]$/, '');
const modules = [...new Set(files.map(moduleOf))].sort();

const src = {}; // module -> { c, h }: its code (comments and strings out)
const raw = {}; // and as written (for #include lines)
for (const m of modules) {
  src[m] = { c: '', h: '' };
  raw[m] = { c: '', h: '' };
}
for (const f of files.sort()) {
  const text = read(f);
  const part = f.endsWith('.c') ? 'c' : 'h';
  raw[moduleOf(f)][part] += text + '\n';
  src[moduleOf(f)][part] += code(text) + '\n';
}
const NODES = ALL ? modules : CORE;

// Who defines each name.
const definedBy = new Map();
for (const m of modules) for (const n of topNames(src[m].c, true)) definedBy.set(n, m);

const problems = [];

// A core header declares only what its own .c defines (static inline in
// the header is its own).
for (const m of CORE) {
  if (!raw[m] || (!raw[m].c && !raw[m].h)) {
    problems.push(`module ${m}: no ${m}.c or ${m}.h in ${DIR}`);
    continue;
  }
  const declared = new Set([...topNames(src[m].h, false), ...externNames(src[m].h)]);
  for (const n of declared) {
    const where = definedBy.get(n);
    if (where && where !== m)
      problems.push(`${m}.h declares ${n}, but ${where}.c defines it: ${m} depends on ${where} without saying so`);
  }
}

// The hub's two halves talk only through the router (decision 70): neither
// names a function or variable the other defines. (A cluster's router
// carries what they say to each other between relays.)
const HALVES = ['hub_agent.c', 'hub_viewer.c'];
{
  const text = Object.fromEntries(HALVES.map((f) => [f, read(f) === null ? null : code(read(f))]));
  for (const f of HALVES) {
    if (text[f] === null) continue;
    for (const g of HALVES) {
      if (g === f || text[g] === null) continue;
      const theirs = topNames(text[g], true);
      for (const tok of new Set(text[f].match(/\bcl_[A-Za-z0-9_]+\b/g) || []))
        if (theirs.has(tok)) problems.push(`${f} uses ${tok}, which ${g} defines: the hub's halves talk only through the router`);
    }
  }
}

// The graph among the core modules.
const edges = new Map(NODES.map((m) => [m, new Map()])); // from -> to -> why
function edge(from, to, why) {
  if (from === to || !edges.has(from) || !edges.has(to)) return;
  if (!edges.get(from).has(to)) edges.get(from).set(to, why);
}
for (const m of NODES) {
  if (!raw[m]) continue; // a missing core module: reported above
  for (const part of ['c', 'h']) for (const inc of includes(raw[m][part])) edge(m, inc, `${m}.${part} includes relay/${inc}.h`);
  for (const tok of new Set(src[m].c.match(/\bcl_[A-Za-z0-9_]+\b/g) || [])) {
    const where = definedBy.get(tok);
    if (where) edge(m, where, `${m}.c uses ${tok} (${where}.c)`);
  }
}

// Cycles: Tarjan's strongly connected components, then one cycle of each.
function sccs() {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const out = [];
  function visit(v) {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v).keys()) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp);
    }
  }
  for (const v of NODES) if (!idx.has(v)) visit(v);
  return out;
}

function cycleIn(comp) {
  const inComp = new Set(comp);
  const start = comp.slice().sort()[0];
  // breadth-first from start back to start inside the component
  const prev = new Map();
  const queue = [start];
  const seen = new Set([start]);
  while (queue.length) {
    const v = queue.shift();
    for (const w of edges.get(v).keys()) {
      if (!inComp.has(w)) continue;
      if (w === start) {
        const path = [v];
        for (let x = v; prev.has(x); x = prev.get(x)) path.unshift(prev.get(x));
        return [...path, start];
      }
      if (!seen.has(w)) {
        seen.add(w);
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return comp;
}

for (const comp of sccs()) {
  const cyc = cycleIn(comp);
  const steps = [];
  for (let i = 0; i + 1 < cyc.length; i++) steps.push(`  ${edges.get(cyc[i]).get(cyc[i + 1])}`);
  problems.push(`cycle: ${cyc.join(' -> ')} (modules in it: ${comp.sort().join(', ')})\n${steps.join('\n')}`);
}

if (DOT) {
  console.log('digraph relay_core {');
  for (const [from, tos] of edges) for (const to of tos.keys()) console.log(`  ${from} -> ${to};`);
  console.log('}');
} else {
  for (const m of NODES) console.log(`${m.padEnd(9)} -> ${[...edges.get(m).keys()].sort().join(' ') || '(nothing)'}`);
}
if (problems.length) {
  console.error(`relay_graph: the relay core's modules are not layered (${problems.length} problem(s)):`);
  for (const p of problems) console.error(`- ${p}`);
  process.exit(1);
}
console.error('relay_graph: the relay core has no cycle');
