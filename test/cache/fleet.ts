// A fleetboot configuration for the warm-up tests: the repository's real preseed templates,
// boot assets with a bzImage header naming the test kernel ABI and an initrd whose dpkg
// status lists one udeb, the cache pointed at a loopback upstream, and hosts whose roles add
// packages (the warm-up must take the union of every host that has the role).
import { join } from 'node:path';
import { makeFixture, REPO, type Fixture } from '../helpers/fixture.js';
import { loadConfig, type LoadedConfig } from '../../src/config/load.js';
import { fakeBzImage, fakeInitrd, KERNEL_ABI } from './repo.js';

export const FLEET_INVENTORY = `
roles:
  debian-12:
    kernel: debian-12/linux
    initrd: debian-12/initrd.gz
    template: debian-12.preseed.cfg
    suite: bookworm
    packages: [hello]
  web:
    packages: [fb-extra]
  ghost:
    packages: [no-such-package]
  rocky-9:
    kernel: rocky-9/vmlinuz
    initrd: rocky-9/initrd.img
    template: rocky-9.ks.cfg
    suite: "9"
    packages: [bash]
hosts:
  - name: web-01
    macs: ["52:54:00:00:01:01"]
    roles: [debian-12, web]
  - name: web-02
    macs: ["52:54:00:00:01:02"]
    roles: [debian-12, web]
  - name: db-01
    macs: ["52:54:00:00:02:01"]
    roles: [debian-12]
  - name: ghost-01
    macs: ["52:54:00:00:03:01"]
    roles: [debian-12, ghost]
  - name: build-01
    macs: ["52:54:00:00:04:01"]
    roles: [rocky-9]
`;

export interface Fleet {
  fx: Fixture;
  configFile: string;
  loaded: LoadedConfig;
  cleanup(): void;
}

export function makeFleet(upstreamUrl: string, cacheExtra = ''): Fleet {
  const fx = makeFixture('', FLEET_INVENTORY);
  fx.write(
    'fleetboot.yaml',
    `server:\n  address: 127.0.0.1\nhttp:\n  listen: 127.0.0.1\n  port: 0\npaths:\n  db: state/fb.sqlite\n  assets: assets\n  templates: ${join(REPO, 'preseed-templates')}\n` +
      `tftp:\n  enabled: false\ndhcp:\n  enabled: false\nsyslog:\n  enabled: false\nweb:\n  enabled: false\ninventory: inventory.yaml\n` +
      `cache:\n  enabled: true\n  dir: cache\n  repos:\n    - { name: debian, url: "${upstreamUrl}" }\n${cacheExtra}`,
  );
  fx.write('assets/debian-12/linux', '');
  fakeBzImage(join(fx.dir, 'assets/debian-12/linux'), KERNEL_ABI);
  fakeInitrd(join(fx.dir, 'assets/debian-12/initrd.gz'), ['fb-initrd-udeb']);
  const r = loadConfig({ file: fx.configFile, env: {} });
  if (!r.ok) throw new Error('fleet config invalid: ' + JSON.stringify(r.errors));
  return { fx, configFile: fx.configFile, loaded: r.loaded, cleanup: fx.cleanup };
}
