// A search hit's snippet (docs/chat.md, "Shapes": the matched words between
// "[[" and "]]", nothing else in it is markup) split into plain and marked
// runs. Pure; the page builds text nodes and <mark> elements from the runs,
// never HTML, so a snippet cannot inject anything.

export interface Run {
  text: string;
  mark: boolean;
}

export function snippetRuns(snippet: string): Run[] {
  const out: Run[] = [];
  const add = (text: string, mark: boolean) => {
    if (!text) return;
    const last = out[out.length - 1];
    if (last && last.mark === mark) last.text += text;
    else out.push({ text, mark });
  };
  let i = 0;
  while (i < snippet.length) {
    const open = snippet.indexOf("[[", i);
    if (open < 0) break;
    const close = snippet.indexOf("]]", open + 2);
    if (close < 0) break; // an unclosed marker (the snippet was cut): plain text
    add(snippet.slice(i, open), false);
    add(snippet.slice(open + 2, close), true);
    i = close + 2;
  }
  add(snippet.slice(i), false);
  return out;
}
