/**
 * A flame graph (SVG) from a V8 `.cpuprofile`, as `node --cpu-prof` writes it: each bar a
 * function, above what called it, as wide as the share of busy samples spent in it and what it
 * called. Idle time is left out. Open the SVG in a browser; hovering a bar shows its name and
 * share.
 *
 *   npx tsx bench/flamegraph.ts prof/CPU.….cpuprofile docs/profile-api.svg "title"
 */
import { readFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}
interface Frame {
  name: string;
  value: number;
  children: Map<string, Frame>;
}

const [inFile, outFile, title = 'CPU profile'] = process.argv.slice(2);
if (!inFile || !outFile) throw new Error('usage: flamegraph.ts <in.cpuprofile> <out.svg> [title]');
const profile = JSON.parse(readFileSync(inFile, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfTime = new Map<number, number>();
profile.samples.forEach((id, i) => selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

const label = ({ functionName, url }: ProfileNode['callFrame']) => {
  const file = url
    .replace(/^file:\/\/.*node_modules\//, '')
    .replace(/^file:\/\/.*\/dist\//, '')
    .split('/')
    .slice(-2)
    .join('/');
  return `${functionName || '(anonymous)'}${file ? ` ${file}` : ''}`;
};

/** Merges the profile's tree by function, callers below; returns the time under `node`. */
function merge(node: ProfileNode, into: Frame): number {
  if (node.callFrame.functionName === '(idle)') return 0;
  const name = label(node.callFrame);
  let frame = into.children.get(name);
  if (!frame) into.children.set(name, (frame = { name, value: 0, children: new Map() }));
  let time = selfTime.get(node.id) ?? 0;
  for (const child of node.children ?? []) time += merge(byId.get(child)!, frame);
  frame.value += time;
  return time;
}

const root: Frame = { name: 'all (busy samples)', value: 0, children: new Map() };
for (const child of profile.nodes[0]!.children ?? []) root.value += merge(byId.get(child)!, root);

const WIDTH = 1200;
const ROW = 17;
const MIN_WIDTH = 0.6;
// Deeper frames (module loading at start-up, mostly) are not drawn: their callers' bars hold their time.
const MAX_DEPTH = 36;
const bars: { frame: Frame; x: number; width: number; depth: number }[] = [];
function place(frame: Frame, x: number, depth: number): void {
  const width = (frame.value / root.value) * WIDTH;
  if (width < MIN_WIDTH || depth > MAX_DEPTH) return;
  bars.push({ frame, x, width, depth });
  let next = x;
  for (const child of [...frame.children.values()].sort((a, b) => b.value - a.value)) {
    place(child, next, depth + 1);
    next += (child.value / root.value) * WIDTH;
  }
}
place(root, 0, 0);

const depth = Math.max(...bars.map((b) => b.depth));
const height = (depth + 1) * ROW + 30;
const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const colour = (name: string) =>
  /\((garbage collector|program)\)|^writev|^runMicrotasks| node:/.test(name)
    ? '#a9c1e0' // the runtime: V8, Node's own modules, system calls
    : /^[^ ]+ (src|http|pages|outbox|db|users|auth|commands|tasks|email)\//.test(name)
      ? '#7cc47c' // Dundie's own code
      : '#eab35c'; // libraries
const rows = bars.map(({ frame, x, width, depth: d }) => {
  const y = height - (d + 1) * ROW - 2;
  const share = ((100 * frame.value) / root.value).toFixed(1);
  const text =
    width > 40
      ? `<text x="${(x + 3).toFixed(1)}" y="${y + 12}">${escape(frame.name.slice(0, Math.floor(width / 6.7)))}</text>`
      : '';
  return `<g><title>${escape(frame.name)}: ${share}%</title><rect x="${x.toFixed(2)}" y="${y}" width="${width.toFixed(2)}" height="${ROW - 1}" fill="${colour(frame.name)}"/>${text}</g>`;
});
writeFileSync(
  outFile,
  `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="monospace" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
<text x="4" y="16" font-size="13">${escape(title)}: green Dundie, orange libraries, blue the runtime; idle left out</text>
${rows.join('\n')}
</svg>
`,
);
console.log(`${outFile}: ${bars.length} bars, ${depth} deep, ${(root.value / 1000).toFixed(0)} ms busy`);
