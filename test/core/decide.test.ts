import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideBoot, type BootPolicy } from '../../src/boot/decide.js';
import type { BootHost, ClassifiedClient, HostBootState, InstallState } from '../../src/boot/types.js';

const client: ClassifiedClient = { mac: '52:54:00:aa:00:01', arch: 'bios', kind: 'ipxe', via: 'http' };
const host: BootHost = { name: 'alpha', role: 'tiny', kernel: 'k', initrd: 'i', cmdline: 'c' };
const run = (state: InstallState) => ({ id: 7, token: 't', state });
const local: BootPolicy = { unknown: 'local' };

const table: { name: string; host?: BootHost; state: HostBootState; policy?: BootPolicy; want: string; wantReason?: RegExp }[] = [
  { name: 'known, not marked -> local', host, state: { reinstallMarked: false }, want: 'local', wantReason: /not marked/ },
  { name: 'marked + marked run -> install', host, state: { reinstallMarked: true, run: run('marked') }, want: 'install' },
  { name: 'marked + booting -> install (rebooted during kernel load)', host, state: { reinstallMarked: true, run: run('booting') }, want: 'install' },
  { name: 'marked + installing -> install (installer crashed and rebooted)', host, state: { reinstallMarked: true, run: run('installing') }, want: 'install' },
  { name: 'marked + stalled -> install (retry)', host, state: { reinstallMarked: true, run: run('stalled') }, want: 'install' },
  { name: 'rebooting -> local (installer done)', host, state: { reinstallMarked: false, run: run('rebooting') }, want: 'local', wantReason: /installer finished/ },
  { name: 'marked without run -> local', host, state: { reinstallMarked: true }, want: 'local', wantReason: /no open install run/ },
  { name: 'run open but mark removed -> local', host, state: { reinstallMarked: false, run: run('installing') }, want: 'local' },
  { name: 'unknown, policy local', state: { reinstallMarked: false }, want: 'local', wantReason: /unknown MAC/ },
  { name: 'unknown, policy silence', state: { reinstallMarked: false }, policy: { unknown: 'silence' }, want: 'silence' },
  { name: 'unknown, policy discovery', state: { reinstallMarked: false }, policy: { unknown: 'discovery', discovery: { kernel: 'dk', initrd: 'di', cmdline: 'dc' } }, want: 'discovery' },
  { name: 'unknown, discovery without image -> silence', state: { reinstallMarked: false }, policy: { unknown: 'discovery' }, want: 'silence' },
];

for (const row of table) {
  test(`decideBoot: ${row.name}`, () => {
    const a = decideBoot(client, row.host, row.state, row.policy ?? local);
    assert.equal(a.action, row.want);
    if (row.wantReason) assert.match((a as { reason: string }).reason, row.wantReason);
    if (a.action === 'install') assert.deepEqual(a, { action: 'install', host: 'alpha', role: 'tiny', kernel: 'k', initrd: 'i', cmdline: 'c', runId: 7 });
    if (a.action === 'discovery') assert.equal(a.kernel, 'dk');
  });
}
