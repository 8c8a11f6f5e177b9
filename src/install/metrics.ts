// Install and boot metrics: how long each stage of an install took, per role (so a slow
// mirror or a stuck partitioner shows up as a shifted histogram), and what the boot decision
// answered, by action. Durations are read back from the run's events when the run ends, so a
// daemon restart in the middle of an install loses nothing.
import client from 'prom-client';
import type { Registry } from 'prom-client';
import type { ChangeEvent, InstallService } from './service.js';
import type { RunStore } from '../store/runs.js';
import type { BootAnswer, ClassifiedClient } from '../boot/types.js';

// installer stages run from seconds (pxe) to tens of minutes (packages over a slow mirror)
const BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

/** Stage segments of a run: each progress/boot event opens a stage that lasts until the next. */
export function stageDurations(events: { at: number; kind: string; stage: string | null }[], finishedAt: number): { stage: string; seconds: number }[] {
  const marks = events.filter((e) => (e.kind === 'progress' || e.kind === 'boot') && e.stage);
  const out: { stage: string; seconds: number }[] = [];
  for (let i = 0; i < marks.length; i++) {
    // repeated reports of the same stage extend it
    if (i > 0 && marks[i].stage === marks[i - 1].stage) continue;
    let j = i + 1;
    while (j < marks.length && marks[j].stage === marks[i].stage) j++;
    const end = j < marks.length ? marks[j].at : finishedAt;
    out.push({ stage: marks[i].stage!, seconds: Math.max(0, (end - marks[i].at) / 1000) });
  }
  return out;
}

export function installDurationMetrics(registry: Registry, installs: InstallService, store: () => RunStore | undefined) {
  const hist = new client.Histogram({
    name: 'fleetboot_install_stage_duration_seconds',
    help: 'Time spent in each install stage (stage="total": first boot to the end), per role, observed when a run ends done or failed',
    labelNames: ['role', 'stage', 'outcome'],
    buckets: BUCKETS,
    registers: [registry],
  });
  // a finished run can still emit changes (late log lines): observe each run once; bounded
  const seen = new Set<number>();
  const onChange = (c: ChangeEvent) => {
    const run = c.run;
    if (!run || (run.state !== 'done' && run.state !== 'failed') || !run.finished_at || seen.has(run.id)) return;
    seen.add(run.id);
    if (seen.size > 10_000) seen.delete(seen.values().next().value!);
    const s = store();
    if (!s) return;
    const events = s.events({ runId: run.id, limit: 5000 });
    for (const seg of stageDurations(events, run.finished_at)) hist.observe({ role: run.role, stage: seg.stage, outcome: run.state }, seg.seconds);
    const start = run.booted_at ?? run.created_at;
    hist.observe({ role: run.role, stage: 'total', outcome: run.state }, Math.max(0, (run.finished_at - start) / 1000));
  };
  installs.on('change', onChange);
  return { hist, stop: () => installs.off('change', onChange) };
}

export function bootDecisionMetrics(registry: Registry): (answer: BootAnswer, client: ClassifiedClient) => void {
  const counter = new client.Counter({
    name: 'fleetboot_boot_decisions_total',
    help: 'Boot decisions by action (install, local, discovery, silence) and by the path that asked (http, tftp, dhcp)',
    labelNames: ['action', 'via'],
    registers: [registry],
  });
  return (answer, c) => counter.inc({ action: answer.action, via: c.via });
}
