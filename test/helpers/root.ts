// Tests that create network namespaces, bridges or raw sockets need root (precisely: the
// capabilities below, which a container's root may lack). Without them such a test is
// skipped with a "needs root" reason instead of failing on "Operation not permitted";
// `.ci/run` sets FLEETBOOT_TEST_FAIL_ON_SKIP=1, so there a skip fails the run (scripts/run-tests.mjs).
import { readFileSync } from 'node:fs';

const CAPS = { CAP_NET_ADMIN: 12, CAP_NET_RAW: 13, CAP_SYS_CHROOT: 18, CAP_SYS_ADMIN: 21, CAP_MKNOD: 27 } as const;

/** What each kind of test does that needs privileges, and the capabilities that allow it. */
const NEEDS = {
  /** ip netns add (mounts /run/netns), bridges, veth pairs */
  'network namespaces': [CAPS.CAP_SYS_ADMIN, CAPS.CAP_NET_ADMIN],
  /** raw sockets (UDP datagrams from source port 0) */
  'raw sockets': [CAPS.CAP_NET_RAW],
  /** debootstrap: chroot into the target, device nodes, root-owned files */
  debootstrap: [CAPS.CAP_SYS_CHROOT, CAPS.CAP_MKNOD, CAPS.CAP_SYS_ADMIN],
} as const;

/** Effective capabilities of this process (Linux /proc/self/status CapEff). */
function effectiveCaps(): bigint {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}

/**
 * For `test(name, { skip: needsRoot('network namespaces') }, ...)` (or describe): false when
 * this process may do it, else the skip reason, which starts with "needs root".
 */
export function needsRoot(what: keyof typeof NEEDS): false | string {
  const need: readonly number[] = NEEDS[what];
  const caps = effectiveCaps();
  const missing = need.filter((bit) => !(caps & (1n << BigInt(bit))));
  if (!missing.length) return false;
  const uid = process.geteuid?.();
  return `needs root (${what}; running as uid ${uid}${uid === 0 ? ' without the capabilities' : ''})`;
}
