#!/usr/bin/env node
// Checks that a clawlink-bench JSON file is well formed (make test-bench).
//
// Shape only: machine info, and for every scenario at least one
// measurement with a numeric value, a unit and a result. Fields newer
// harnesses add are checked when present: floor_ref names the row whose
// value is the floor (for a loaded latency row, a loaded floor),
// reference_ref the row whose value is the reference (two plain
// forwarders, same window), and interleave_block is a positive integer. No number is judged: timing
// belongs to `make bench`, never to a pass/fail test.
import { readFileSync } from 'node:fs';

const SCENARIOS = ['throughput', 'latency', 'footprint', 'forward', 'storm', 'idle', 'longlink', 'browser'];

const path = process.argv[2];
const doc = JSON.parse(readFileSync(path, 'utf8'));
const problems = [];
for (const key of ['cpu_model', 'cores', 'kernel']) {
  if (!(doc.machine && key in doc.machine)) problems.push(`machine.${key} missing`);
}
for (const key of ['date', 'git_commit', 'mode']) {
  if (typeof doc[key] !== 'string') problems.push(`${key} missing`);
}
const seen = new Set();
const byName = new Map((doc.measurements || []).map((m) => [m.name, m]));
(doc.measurements || []).forEach((m, i) => {
  const where = `measurements[${i}] (${m.name ?? '?'})`;
  if (typeof m.value !== 'number' || !Number.isFinite(m.value)) problems.push(`${where}: value is not a finite number`);
  for (const key of ['scenario', 'name', 'unit', 'target']) {
    if (typeof m[key] !== 'string') problems.push(`${where}: ${key} missing`);
  }
  if (!['pass', 'fail', 'info'].includes(m.result)) problems.push(`${where}: result is ${JSON.stringify(m.result)}`);
  if ('floor' in m && (typeof m.floor !== 'number' || !Number.isFinite(m.floor))) problems.push(`${where}: floor is not a finite number`);
  if ('floor_ref' in m) {
    const ref = byName.get(m.floor_ref);
    if (!ref) problems.push(`${where}: floor_ref ${JSON.stringify(m.floor_ref)} names no measurement`);
    else if (ref.value !== m.floor) problems.push(`${where}: floor ${m.floor} is not the value of ${m.floor_ref} (${ref.value})`);
    else if (m.scenario === 'latency' && /busy/.test(m.name) && !/busy/.test(ref.name)) problems.push(`${where}: a loaded row with an idle floor (${m.floor_ref})`);
  }
  if ('reference' in m && (typeof m.reference !== 'number' || !Number.isFinite(m.reference))) problems.push(`${where}: reference is not a finite number`);
  if ('reference_ref' in m) {
    const ref = byName.get(m.reference_ref);
    if (!ref) problems.push(`${where}: reference_ref ${JSON.stringify(m.reference_ref)} names no measurement`);
    else if (ref.value !== m.reference) problems.push(`${where}: reference ${m.reference} is not the value of ${m.reference_ref} (${ref.value})`);
    else if (!/reference/.test(ref.name)) problems.push(`${where}: reference_ref ${m.reference_ref} is not a reference row`);
  }
  if ('interleave_block' in m && !(Number.isInteger(m.interleave_block) && m.interleave_block > 0)) problems.push(`${where}: interleave_block is ${JSON.stringify(m.interleave_block)}`);
  seen.add(m.scenario);
});
for (const s of SCENARIOS) if (!seen.has(s)) problems.push(`no measurement from scenario "${s}"`);
if (problems.length) {
  console.error(`${path}: not a complete bench result:`);
  for (const p of problems) console.error(`  ${p}`);
  for (const n of doc.notes || []) console.error(`  note: ${n}`);
  process.exit(1);
}
console.log(`test-bench: ${path} is well formed (${doc.measurements.length} measurements)`);
