// GET /boot.ipxe?mac=.. : what iPXE fetches once DHCP pointed it here. Unauthenticated, so it
// reveals only what a booting machine needs: its own kernel URL and its run's token URLs.
import express, { type Router } from 'express';
import type { BootService } from '../boot/service.js';
import { normaliseMac } from '../config/holder.js';
import type { Arch } from '../boot/types.js';

// iPXE's ${buildarch}/${platform} when the script URL carries them (?arch=x86_64&platform=efi)
export function archFrom(platform: unknown, buildarch: unknown): Arch {
  if (platform === 'efi') return buildarch === 'arm64' ? 'efi-arm64' : buildarch === 'i386' ? 'efi-ia32' : 'efi-x64';
  if (platform === 'pcbios') return 'bios';
  return 'unknown';
}

export function bootRouter(boot: BootService): Router {
  const r = express.Router();
  r.get('/boot.ipxe', async (req, res) => {
    const mac = normaliseMac(String(req.query.mac ?? ''));
    if (!mac) {
      res.status(400).type('text/plain').send('#!ipxe\necho fleetboot: missing or malformed ?mac=\nexit\n');
      return;
    }
    // batched: the answer leaves once this turn's writes (discovered, boot events) committed
    const { script } = await boot.ipxeBatched({ mac, arch: archFrom(req.query.platform, req.query.buildarch), kind: 'ipxe', via: 'http', ip: req.ip });
    if (script === null) {
      res.status(404).type('text/plain').send('not found\n');
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.type('text/plain').send(script);
  });
  return r;
}
