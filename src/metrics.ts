/**
 * Prometheus metrics (prom-client), one registry per service process: outbox rows by status
 * and addresses on the suppression list (read at scrape time, so every instance reports the same
 * tables), and this process's sends, failures, send durations and enqueue-to-sent delays.
 * It reads the outbox and the suppression list, so it sits above them, with the composers
 * (`service.ts`, `app.ts`, `dispatcherThread.ts`) that make it and hand it down: the dispatcher
 * takes it as its `DispatchMetrics`, /metrics as its registry.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Conn } from './db/database.ts';
import { countSuppressions } from './email/suppressions.ts';
import type { DispatchMetrics } from './outbox/processRow.ts';
import { OUTBOX_STATUSES, summary } from './outbox/queries.ts';

export interface Metrics extends DispatchMetrics {
  registry: Registry;
  sent: Counter<'kind'>;
  skipped: Counter<'kind' | 'reason'>;
  failures: Counter<'kind'>;
  sendSeconds: Histogram<'kind'>;
  delaySeconds: Histogram<'kind'>;
  /** 1 while this process's dispatcher thread runs, 0 between a crash and its restart. */
  dispatcherThreadUp: Gauge;
  dispatcherThreadRestarts: Counter;
}

export function createMetrics(db: Conn): Metrics {
  const registry = new Registry();
  new Gauge({
    name: 'dundie_outbox_rows',
    help: 'Rows in the outbox by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = new Map((await summary(db)).map((r) => [r.status, r.count]));
      for (const status of OUTBOX_STATUSES) this.set({ status }, counts.get(status) ?? 0);
    },
  });
  new Gauge({
    name: 'dundie_email_suppressions',
    help: 'Addresses on the suppression list (refused for good: not mailed again)',
    registers: [registry],
    async collect() {
      this.set(await countSuppressions(db));
    },
  });
  return {
    registry,
    dispatcherThreadUp: new Gauge({
      name: 'dundie_dispatcher_thread_up',
      help: 'Whether the dispatcher thread of this process runs (npm start: both roles in one process)',
      registers: [registry],
    }),
    dispatcherThreadRestarts: new Counter({
      name: 'dundie_dispatcher_thread_restarts_total',
      help: 'Times the dispatcher thread exited on its own (a crash) and was started again',
      registers: [registry],
    }),
    sent: new Counter({
      name: 'dundie_emails_sent_total',
      help: 'E-mails sent',
      labelNames: ['kind'],
      registers: [registry],
    }),
    skipped: new Counter({
      name: 'dundie_emails_skipped_total',
      help: 'Outbox rows finished without sending (no such user, throttled)',
      labelNames: ['kind', 'reason'],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'dundie_email_failures_total',
      help: 'Failed send attempts',
      labelNames: ['kind'],
      registers: [registry],
    }),
    sendSeconds: new Histogram({
      name: 'dundie_email_send_seconds',
      help: 'Time to render and hand one e-mail to the transport',
      labelNames: ['kind'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    delaySeconds: new Histogram({
      name: 'dundie_outbox_delay_seconds',
      help: 'From the request (row created) to the e-mail sent',
      labelNames: ['kind'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers: [registry],
    }),
  };
}
