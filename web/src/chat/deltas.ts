// A stream's streaming replies, from its `delta` events (docs/chat.md
// "Streams"): the first delta of a run on a stream is the whole text so
// far ({text}), later ones only what was appended ({append}), each stream
// counting from what it itself was sent. The send stream and GET /events
// both carry the same run: each keeps its own copy here, so the two never
// add up. At most `max` runs are kept (the oldest forgotten: its next
// delta is then ignored until a whole text comes, which the agent sends
// to a stream that lost track).
export class DeltaTexts {
  private runs = new Map<string, string>();
  constructor(private readonly max = 16) {}

  // The reply so far after this delta, or null when the delta cannot be
  // placed (no run id, or an append to a run this stream does not hold).
  apply(data: Record<string, unknown>): string | null {
    const run = data.run_id;
    if (typeof run !== "string") return null;
    let text: string;
    if (typeof data.text === "string") text = data.text;
    else if (typeof data.append === "string" && this.runs.has(run)) text = this.runs.get(run)! + data.append;
    else return null;
    this.runs.delete(run); // most recent last
    this.runs.set(run, text);
    while (this.runs.size > this.max) this.runs.delete(this.runs.keys().next().value as string);
    return text;
  }

  // The run settled: its copy is no longer needed.
  end(run: string): void {
    this.runs.delete(run);
  }
}
