// The boot decision: one pure function from (classified client, host record, runtime state)
// to what the client should boot. DHCP, TFTP and HTTP only render its answer.
import type { BootAnswer, BootHost, ClassifiedClient, HostBootState } from './types.js';
import { INSTALLER_STATES } from '../install/machine.js';

export interface BootPolicy {
  unknown: 'local' | 'discovery' | 'silence';
  discovery?: { kernel: string; initrd: string; cmdline: string };
}

/** fleetboot's own installer environment (src/installer/build.ts) under boot-assets/ */
export const IMAGE_INSTALLER = { kernel: 'fleetboot-installer/vmlinuz', initrd: 'fleetboot-installer/initrd.img' } as const;
/** Its command line (a template, rendered with the run's context like a role's): where the
 *  plan is, where to log, the console; the role's own cmdline is appended. */
export const IMAGE_INSTALLER_CMDLINE = 'fb.plan={{ urls.base }}/i/{{ run.token }}/plan fb.syslog={{ syslog.host }}:{{ syslog.port }} console=tty0 console=ttyS0,115200n8';

export function decideBoot(client: ClassifiedClient, host: BootHost | undefined, state: HostBootState, policy: BootPolicy): BootAnswer {
  if (!host) {
    switch (policy.unknown) {
      case 'silence':
        return { action: 'silence', reason: `unknown MAC ${client.mac}` };
      case 'discovery':
        if (policy.discovery) return { action: 'discovery', ...policy.discovery };
        return { action: 'silence', reason: 'discovery image not configured' };
      case 'local':
        return { action: 'local', host: '', reason: `unknown MAC ${client.mac}: default is a local boot` };
    }
  }
  const run = state.run;
  if (state.reinstallMarked && run && INSTALLER_STATES.has(run.state)) {
    if (host.installer === 'image') {
      // refused with a local boot, not an iPXE retry: the machine keeps running its old
      // system, the mark stays, and the next PXE boot after the image exists installs
      if (!host.imageId) return { action: 'local', host: host.name, refused: true, reason: `role ${host.role} has no image yet (fleetboot image build ${host.role}): installer not served` };
      if (!host.installerEnv) return { action: 'local', host: host.name, refused: true, reason: 'the installer environment is not built (fleetboot assets fetch): installer not served' };
      return { action: 'install', host: host.name, role: host.role, kernel: IMAGE_INSTALLER.kernel, initrd: IMAGE_INSTALLER.initrd, cmdline: `${IMAGE_INSTALLER_CMDLINE} ${host.cmdline}`.trim(), runId: run.id };
    }
    return { action: 'install', host: host.name, role: host.role, kernel: host.kernel, initrd: host.initrd, cmdline: host.cmdline, runId: run.id };
  }
  if (run?.state === 'rebooting') return { action: 'local', host: host.name, reason: 'installer finished; booting the installed system' };
  return { action: 'local', host: host.name, reason: state.reinstallMarked ? 'marked, but no open install run' : 'not marked for reinstall' };
}
