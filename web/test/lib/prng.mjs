// Seeded randomness for the web fuzzers: every run prints its seed, and
// FUZZ_SEED=… replays it exactly. FUZZ_RUNS (default 20000, as for the C
// harnesses) sets how long they run.

/** The run's seed: FUZZ_SEED, else a random one. */
export const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0;

/** FUZZ_RUNS, default 20000. */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS || 20000);

/** mulberry32: small, deterministic, good enough to pick bytes. */
export function prng(seed = SEED) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n); // 0 … n−1
  const pick = (arr) => arr[int(arr.length)];
  return { next, int, pick, chance: (p) => next() < p };
}
