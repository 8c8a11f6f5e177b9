// The machine's own Debian mirror, read from its apt sources at test time (never hard-coded):
// the upstream for tests that debootstrap through the package cache.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The first http(s) URI that serves bookworm (not -security/-updates) in the machine's apt sources. */
export function machineDebianMirror(): string {
  const found: string[] = [];
  const d = '/etc/apt/sources.list.d';
  for (const f of existsSync(d) ? readdirSync(d).filter((x) => x.endsWith('.sources')) : []) {
    for (const stanza of readFileSync(join(d, f), 'utf8').split(/\n\s*\n/)) {
      const uris = /^URIs:\s*(.+)$/m.exec(stanza)?.[1].split(/\s+/) ?? [];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1].split(/\s+/) ?? [];
      if (/^Types:.*\bdeb\b/m.test(stanza) && suites.includes('bookworm')) found.push(...uris);
    }
  }
  if (existsSync('/etc/apt/sources.list')) {
    for (const l of readFileSync('/etc/apt/sources.list', 'utf8').split('\n')) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/.exec(l.trim() + ' ');
      if (m) found.push(m[1]);
    }
  }
  const uri = found.find((u) => /^https?:\/\//.test(u));
  if (!uri) throw new Error('no bookworm http(s) mirror in /etc/apt/sources.list{,.d}');
  return uri.replace(/\/+$/, '');
}

