/**
 * The metrics (`metrics.ts`) are no account oracle: not on the API port, served on a port of their
 * own (loopback by default) by every role, the dispatcher alone included.
 */
import test from 'ava';
import { testConfig } from './helpers/config.ts';
import { useTestDatabase } from './helpers/db.ts';
import { makeUser } from './helpers/factories.ts';
import { dispatch } from './helpers/flow.ts';
import { startApi } from './helpers/service.ts';

const tdb = useTestDatabase('metrics');

test.serial(
  '/metrics is no account oracle: 404 on the API port, served on the metrics port for every role',
  async (t) => {
    const config = testConfig(tdb.url);
    t.is(testConfig(tdb.url, { DUNDIE_METRICS__PORT: '9464' }).metrics.HOST, '127.0.0.1', 'loopback by default');
    const api = await startApi(config);
    t.teardown(() => api.service.stop());
    await makeUser(tdb.db, { email: 'known@dm.com' });
    for (const email of ['known@dm.com', 'unknown@dm.com']) {
      t.is((await api.request('POST', '/user/pwd_reset_token/', { json: { email } })).status, 200);
    }
    await dispatch(tdb.db, config);
    for (const path of ['/metrics', '/metrics/', '/METRICS', '/metrics?x=1']) {
      const res = await api.request('GET', path);
      t.is(res.status, 404, path);
      t.false(JSON.stringify(res.body).includes('dundie_'), path);
    }
    t.is(api.service.metricsPort === api.service.port, false);
    const scraped = await fetch(`${api.metricsBase}/metrics`).then((r) => r.text());
    t.regex(scraped, /dundie_outbox_rows\{status="sent"\}/);
    t.is((await fetch(`${api.metricsBase}/health`)).status, 200);
    t.is((await fetch(`${api.metricsBase}/user/`)).status, 404, 'the metrics port serves no API');

    // A dispatcher alone serves it too.
    const { startService } = await import('../src/service.ts');
    const { createLogger } = await import('../src/log.ts');
    const dispatcher = await startService(config, createLogger(config), { api: false, dispatcher: true });
    t.teardown(() => dispatcher.stop());
    t.is(dispatcher.port, undefined);
    t.regex(
      await fetch(`http://127.0.0.1:${dispatcher.metricsPort}/metrics`).then((r) => r.text()),
      /dundie_outbox_rows/,
    );
  },
);
