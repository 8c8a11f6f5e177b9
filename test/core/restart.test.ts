// Which reloaded settings need a restart: server.address is baked into DHCP replies and into
// TFTP's bound sockets (when tftp.address is unset), and nowhere else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load.js';
import { restartNeeded } from '../../src/config/restart.js';
import { makeFixture } from '../helpers/fixture.js';
import type { Config } from '../../src/config/schema.js';

const fx = makeFixture(); // one directory: the paths of both configs are the same
test.after(() => fx.cleanup());

function configWith(env: Record<string, string>): Config {
  const r = loadConfig({ file: fx.configFile, env });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.loaded.config;
}

test('restartNeeded: server.address matters to TFTP without tftp.address, not to HTTP alone', () => {
  const tftp = (addr: string, own?: string) =>
    configWith({ FLEETBOOT_SERVER_ADDRESS: addr, FLEETBOOT_TFTP_ENABLED: 'true', ...(own ? { FLEETBOOT_TFTP_ADDRESS: own } : {}) });
  assert.deepEqual(restartNeeded(tftp('127.0.0.1'), tftp('127.0.0.2')), ['server.address']);
  assert.deepEqual(restartNeeded(tftp('127.0.0.1', '127.0.0.1'), tftp('127.0.0.2', '127.0.0.1')), []);
  const http = (addr: string) => configWith({ FLEETBOOT_SERVER_ADDRESS: addr });
  assert.deepEqual(restartNeeded(http('127.0.0.1'), http('127.0.0.2')), []);
});
