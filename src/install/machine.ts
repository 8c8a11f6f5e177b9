// The install-run state machine, as a pure function so every transition is table-testable.
//
//   marked --boot--> booting --progress--> installing --done--> done
//                                                    \--done (role.requireUp)--> rebooting --up--> done
//   booting/installing --no event for stallSeconds--> stalled --boot/progress--> booting/installing
//   rebooting --no "up" within upDeadlineSeconds--> failed
//   any open state --failed--> failed;  --cancel--> cancelled
//
// "Open" runs keep the host's reinstall mark (its next PXE boot is the installer) except
// rebooting: the installer has finished, so the next boot must be the installed disk.
import type { InstallState } from '../boot/types.js';

export type RunEvent =
  | { type: 'boot' }
  | { type: 'progress'; stage: string }
  | { type: 'tick' }
  | { type: 'cancel' };

export interface RunFacts {
  state: InstallState;
  lastEventAt: number; // ms; creation time if no event yet
  requireUp: boolean;
}

export interface Timing {
  stallMs: number;
  upDeadlineMs: number;
}

export interface Transition {
  state: InstallState;
  /** the reinstall mark must be removed (next boot is local) */
  clearMark: boolean;
  reason: string;
}

export const TERMINAL: ReadonlySet<InstallState> = new Set(['done', 'failed', 'cancelled']);
export const OPEN_STATES: readonly InstallState[] = ['marked', 'booting', 'installing', 'rebooting', 'stalled'];
/** States in which a PXE boot of the host gets the installer. */
export const INSTALLER_STATES: ReadonlySet<InstallState> = new Set(['marked', 'booting', 'installing', 'stalled']);

const DONE_STAGES = new Set(['done', 'finished', 'complete']);
const FAILED_STAGES = new Set(['failed', 'error', 'fail']);

export function transition(run: RunFacts, ev: RunEvent, now: number, t: Timing): Transition | null {
  const s = run.state;
  if (TERMINAL.has(s)) return null;
  switch (ev.type) {
    case 'cancel':
      return { state: 'cancelled', clearMark: true, reason: 'cancelled' };
    case 'boot':
      // a PXE boot while rebooting means the installed system did not come up from disk and
      // the firmware fell back to the network: the decision serves a local boot, state stays
      if (s === 'rebooting') return null;
      return s === 'booting' ? null : { state: 'booting', clearMark: false, reason: 'installer served' };
    case 'progress': {
      const stage = ev.stage.toLowerCase();
      if (FAILED_STAGES.has(stage)) return { state: 'failed', clearMark: true, reason: 'installer reported failure' };
      if (stage === 'up') return { state: 'done', clearMark: true, reason: 'installed system is up' };
      if (DONE_STAGES.has(stage)) {
        if (s === 'rebooting') return null;
        return run.requireUp
          ? { state: 'rebooting', clearMark: true, reason: 'installer finished; waiting for first boot' }
          : { state: 'done', clearMark: true, reason: 'installer finished' };
      }
      if (s === 'rebooting') return null; // stray installer message after it finished
      return s === 'installing' ? null : { state: 'installing', clearMark: false, reason: `stage ${ev.stage}` };
    }
    case 'tick': {
      const idle = now - run.lastEventAt;
      if ((s === 'booting' || s === 'installing') && idle >= t.stallMs) {
        return { state: 'stalled', clearMark: false, reason: `no event for ${Math.round(idle / 1000)} s` };
      }
      if (s === 'rebooting' && idle >= t.upDeadlineMs) {
        return { state: 'failed', clearMark: true, reason: `installed system did not call back "up" within ${Math.round(t.upDeadlineMs / 1000)} s` };
      }
      return null;
    }
  }
}
