// Bench helper: the loopback upstream in its own process, so neither cache under test shares an
// event loop with the server it fetches from. Line protocol on stdin/stdout:
//   -> "slow <path> <bytesPerSec>" | "clear" | "stats"      <- one JSON line per command
import { createInterface } from 'node:readline';
import { Upstream } from '../../test/cache/upstream.js';

const [root, port] = process.argv.slice(2);
const up = new Upstream(root);
await up.start(Number(port));
console.log(JSON.stringify({ url: up.url }));
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, a, b] = line.trim().split(/\s+/);
  if (cmd === 'slow') up.faults.set(a, { kind: 'slow', bytesPerSec: Number(b) });
  else if (cmd === 'clear') up.faults.clear();
  const counts: Record<string, number> = {};
  for (const p of up.requests) counts[p] = (counts[p] ?? 0) + 1;
  console.log(JSON.stringify({ bodyBytes: up.bodyBytes, counts }));
}
await up.stop();
