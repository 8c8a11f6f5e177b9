// Generated TFTP files come from the same boot decision as /boot.ipxe.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeFixture, startDaemon, type Fixture } from '../helpers/fixture.js';
import type { Daemon } from '../../src/daemon.js';

let fx: Fixture;
let d: Daemon;
let base: string;
const client = { address: '10.99.0.50', port: 2000 };

before(async () => {
  fx = makeFixture();
  ({ d, base } = await startDaemon(fx));
});
after(async () => {
  await d.stop();
  fx.cleanup();
});

test('boot.ipxe over TFTP chains to the HTTP decision', async () => {
  const b = await d.boot.tftpFile('boot.ipxe', client);
  assert.equal(b?.toString(), `#!ipxe\nchain ${base}/boot.ipxe?mac=\${netX/mac} || exit 1\n`);
  assert.equal((await d.boot.tftpFile('/boot.ipxe', client))?.toString(), b?.toString());
});

test('pxelinux per-MAC config: local until marked, then the installer with its token URLs', async () => {
  const name = 'pxelinux.cfg/01-52-54-00-aa-00-01';
  assert.equal((await d.boot.tftpFile(name, client))?.toString(), 'DEFAULT local\nPROMPT 0\nTIMEOUT 0\nLABEL local\n  LOCALBOOT 0\n');
  const [m] = d.installs.mark(['alpha'], 'test');
  assert.ok(m.ok);
  const token = d.store.run(m.runId)!.token;
  assert.equal(
    (await d.boot.tftpFile(name.toUpperCase().replace('PXELINUX.CFG', 'pxelinux.cfg'), client))?.toString(),
    `DEFAULT fleetboot\nPROMPT 0\nTIMEOUT 0\nLABEL fleetboot\n  MENU LABEL installing tiny on alpha (run ${m.runId})\n  KERNEL tiny/vmlinuz\n  INITRD tiny/initrd.img\n  APPEND console=ttyS0 fb.cb=${base}/i/${token}/progress fb.host=alpha\n`,
  );
  assert.equal(d.store.run(m.runId)!.state, 'booting');
  d.installs.cancel(['alpha']);
});

test('pxelinux default is a local boot; unknown per-MAC files are recorded as discovered; other names fall through', async () => {
  assert.match((await d.boot.tftpFile('pxelinux.cfg/default', client))!.toString(), /LOCALBOOT 0/);
  assert.match((await d.boot.tftpFile('pxelinux.cfg/01-aa-bb-cc-dd-ee-ff', client))!.toString(), /LOCALBOOT 0/);
  assert.ok(d.store.discovered().some((x) => x.mac === 'aa:bb:cc:dd:ee:ff' && x.via === 'tftp'));
  assert.equal(await d.boot.tftpFile('tiny/vmlinuz', client), null);
  assert.equal(await d.boot.tftpFile('pxelinux.cfg/01-zz', client), null);
});
