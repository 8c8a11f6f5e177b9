// The boot decision: one pure function from (classified client, host record, runtime state)
// to what the client should boot. DHCP, TFTP and HTTP only render its answer.
import type { BootAnswer, BootHost, ClassifiedClient, HostBootState } from './types.js';
import { INSTALLER_STATES } from '../install/machine.js';

export interface BootPolicy {
  unknown: 'local' | 'discovery' | 'silence';
  discovery?: { kernel: string; initrd: string; cmdline: string };
}

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
    return { action: 'install', host: host.name, role: host.role, kernel: host.kernel, initrd: host.initrd, cmdline: host.cmdline, runId: run.id };
  }
  if (run?.state === 'rebooting') return { action: 'local', host: host.name, reason: 'installer finished; booting the installed system' };
  return { action: 'local', host: host.name, reason: state.reinstallMarked ? 'marked, but no open install run' : 'not marked for reinstall' };
}
