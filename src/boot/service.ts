// The stateful edge of the boot decision: looks up the host and its run, calls decideBoot,
// renders the answer for iPXE (HTTP or TFTP) or PXELINUX, and records what it served.
import type { Logger } from '../log.js';
import type { ConfigHolder, ResolvedHost } from '../config/holder.js';
import { normaliseMac } from '../config/holder.js';
import type { RunStore } from '../store/runs.js';
import type { InstallService, Clock } from '../install/service.js';
import { buildContext, type TemplateRenderer } from '../install/render.js';
import { decideBoot } from './decide.js';
import { imageBootFacts } from '../installer/boot-facts.js';
import type { BootAnswer, BootHost, ClassifiedClient } from './types.js';
import { ipxeChainScript, ipxeInstallScript, ipxeLocalScript, pxelinuxInstall, pxelinuxLocal } from './ipxe.js';

export interface BootResult {
  answer: BootAnswer;
  /** iPXE script, or null for silence */
  script: string | null;
}

export class BootService {
  constructor(
    private readonly holder: ConfigHolder,
    private readonly store: RunStore,
    private readonly installs: InstallService,
    private readonly renderer: () => TemplateRenderer,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  private bootHost(rh: ResolvedHost): BootHost {
    const b: BootHost = { name: rh.host.name, role: rh.roleName, kernel: rh.role.kernel, initrd: rh.role.initrd, cmdline: rh.role.cmdline };
    if (rh.role.installer === 'image') Object.assign(b, { installer: 'image' }, imageBootFacts(this.holder.config.paths, rh.roleName));
    return b;
  }

  /** Decide for a client; records unknown MACs as discovered. */
  decide(client: ClassifiedClient): { answer: BootAnswer; rh?: ResolvedHost } {
    const rh = this.holder.index.byMac(client.mac);
    const state = rh ? this.installs.hostState(rh.host.name) : { reinstallMarked: false };
    const cfg = this.holder.config;
    const answer = decideBoot(client, rh && this.bootHost(rh), state, { unknown: cfg.boot.unknown, discovery: cfg.boot.discovery });
    if (!rh) this.store.recordDiscovered({ mac: client.mac, now: this.clock.now(), ip: client.ip, arch: client.arch, via: client.via });
    return { answer, rh };
  }

  private assetUrl(path: string): string {
    return `${this.holder.publicUrl}/assets/${path.split('/').map(encodeURIComponent).join('/')}`;
  }

  /**
   * Records the boot (which may issue the run a new token: see InstallService.bootServed), then
   * renders the kernel command line, a template carrying the run's token URLs.
   */
  private installParts(answer: Extract<BootAnswer, { action: 'install' }>, rh: ResolvedHost, ip?: string) {
    const run = this.installs.bootServed(answer.host, answer.runId, ip) ?? this.store.run(answer.runId)!;
    const ctx = buildContext(this.holder, rh, { id: run.id, token: run.token });
    return { cmdline: this.renderer().renderString(answer.cmdline, ctx), title: `installing ${answer.role} on ${answer.host} (run ${run.id})` };
  }

  ipxe(client: ClassifiedClient): BootResult {
    const log = this.log.child({ mac: client.mac, ip: client.ip, via: client.via });
    const { answer, rh } = this.decide(client);
    let script: string | null;
    switch (answer.action) {
      case 'install': {
        const p = this.installParts(answer, rh!, client.ip);
        script = ipxeInstallScript({ kernelUrl: this.assetUrl(answer.kernel), initrdUrl: this.assetUrl(answer.initrd), cmdline: p.cmdline, title: p.title });
        break;
      }
      case 'discovery':
        script = ipxeInstallScript({ kernelUrl: this.assetUrl(answer.kernel), initrdUrl: this.assetUrl(answer.initrd), cmdline: answer.cmdline, title: 'discovery image' });
        break;
      case 'local':
        script = ipxeLocalScript(answer.reason, this.holder.config.boot.localBoot);
        break;
      case 'silence':
        script = null;
        break;
    }
    log.info({ host: rh?.host.name, action: answer.action, reason: 'reason' in answer ? answer.reason : undefined }, 'boot decision');
    if (answer.action === 'local' && answer.refused && rh) {
      log.warn({ host: rh.host.name, reason: answer.reason }, 'installer refused');
      this.installs.note(rh.host.name, 'boot', `installer refused: ${answer.reason}`, client.ip);
    }
    return { answer, script };
  }

  /**
   * Generated TFTP files. `boot.ipxe` (iPXE asking by TFTP) chains to HTTP where the per-MAC
   * decision happens; `pxelinux.cfg/01-<mac>` is PXELINUX's per-MAC config file name.
   */
  async tftpFile(path: string, client: { address: string; port: number }): Promise<Buffer | null> {
    const p = path.replace(/^\/+/, '');
    if (p === 'boot.ipxe') return Buffer.from(ipxeChainScript(this.holder.publicUrl));
    const m = /^pxelinux\.cfg\/01-([0-9a-fA-F]{2}(?:-[0-9a-fA-F]{2}){5})$/.exec(p);
    if (m) {
      const mac = normaliseMac(m[1])!;
      const { answer, rh } = this.decide({ mac, arch: 'bios', kind: 'pxe', via: 'tftp', ip: client.address });
      if (answer.action === 'install') {
        const parts = this.installParts(answer, rh!, client.address);
        return Buffer.from(pxelinuxInstall({ kernel: answer.kernel, initrd: answer.initrd, cmdline: parts.cmdline, title: parts.title }));
      }
      if (answer.action === 'discovery') return Buffer.from(pxelinuxInstall({ ...answer, title: 'discovery image' }));
      if (answer.action === 'local') return Buffer.from(pxelinuxLocal());
      return null;
    }
    // PXELINUX's fallback chain (UUID, IP-hex prefixes) ends at "default": local boot, so a
    // host whose per-MAC file we did not answer never loops into an installer
    if (p === 'pxelinux.cfg/default') return Buffer.from(pxelinuxLocal());
    return null;
  }
}
