// Webhook bodies. One set of facts per event, three renderings (documented in docs/rollouts.md):
//   json         fleetboot's document: { version, event, severity, summary, rollout: {...} }
//   alertmanager an array of Alertmanager v2 alerts (labels/annotations/startsAt/generatorURL),
//                the body of POST /api/v2/alerts
//   slack        { "text": "..." }: Slack, Mattermost and Rocket.Chat incoming webhooks take it
import type { RolloutEvent } from '../rollout/engine.js';
import type { Webhook } from './config.js';

export interface NotifyFacts {
  event: RolloutEvent;
  at: number;
  rollout: {
    id: number;
    state: string;
    reason: string | null;
    selector: string;
    hosts: number;
    counts: Record<string, number>;
    failures: { host: string; attempt: number; reason: string | null }[];
    url: string;
  };
}

const TITLE: Record<RolloutEvent, string> = {
  'rollout.canary_failed': 'canary failed',
  'rollout.stopped_budget': 'stopped: failure budget exceeded',
  'rollout.completed': 'completed',
};
const ALERT: Record<RolloutEvent, string> = {
  'rollout.canary_failed': 'FleetbootRolloutCanaryFailed',
  'rollout.stopped_budget': 'FleetbootRolloutStoppedBudget',
  'rollout.completed': 'FleetbootRolloutCompleted',
};

export const severityOf = (e: RolloutEvent) => (e === 'rollout.completed' ? 'info' : 'page');

export function summaryText(f: NotifyFacts): string {
  const r = f.rollout;
  const fails = r.failures.slice(0, 10).map((x) => `${x.host}: ${x.reason ?? '?'}`);
  const more = r.failures.length > 10 ? [`... and ${r.failures.length - 10} more`] : [];
  return [
    `fleetboot rollout ${r.id} ${TITLE[f.event]} (${r.selector}; ${r.counts.done ?? 0}/${r.hosts} done, ${r.counts.failed ?? 0} failed)`,
    ...(r.reason ? [r.reason] : []),
    ...fails,
    ...more,
    r.url,
  ].join('\n');
}

export function render(format: Webhook['format'], f: NotifyFacts): unknown {
  const text = summaryText(f);
  if (format === 'slack') return { text };
  if (format === 'alertmanager') {
    return [
      {
        labels: { alertname: ALERT[f.event], severity: severityOf(f.event), service: 'fleetboot', rollout: String(f.rollout.id), state: f.rollout.state },
        annotations: { summary: text.split('\n')[0], description: text, failed_hosts: f.rollout.failures.map((x) => x.host).join(',') },
        startsAt: new Date(f.at).toISOString(),
        // completion is news, not a condition: it resolves itself at once
        ...(f.event === 'rollout.completed' ? { endsAt: new Date(f.at).toISOString() } : {}),
        generatorURL: f.rollout.url,
      },
    ];
  }
  return { version: 1, event: f.event, severity: severityOf(f.event), at: new Date(f.at).toISOString(), summary: text, rollout: f.rollout };
}
