import SwaggerParser from '@apidevtools/swagger-parser';
import test from 'ava';
import { appRouters } from '../../src/app.ts';
import { createLimits } from '../../src/auth/limits.ts';
import { EnqueueBatcher } from '../../src/outbox/enqueueBatcher.ts';
import { openApiDocument } from '../../src/http/openapi.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { startApi, type Api } from '../helpers/service.ts';

const tdb = useTestDatabase('openapi');
let api: Api;
test.before(async () => {
  api = await startApi(testConfig(tdb.url));
  tdb.teardown(() => api.service.stop());
});

/** "GET /user/{username}" for every route the app serves, except the docs themselves. */
function servedRoutes(): string[] {
  const routes = new Set<string>();
  const config = testConfig(tdb.url);
  for (const router of appRouters({
    db: tdb.db,
    config,
    outbox: new EnqueueBatcher(tdb.db),
    limits: createLimits(tdb.db, config.security),
  })) {
    for (const layer of router.stack) {
      const path = String(layer.path)
        .replace(/:(\w+)/g, '{$1}')
        .replace(/(.)\/$/, '$1');
      if (path === '/openapi.json' || path.startsWith('/docs')) continue;
      for (const method of layer.methods) if (method !== 'HEAD') routes.add(`${method} ${path}`);
    }
  }
  return [...routes].sort();
}

function documentedRoutes(): string[] {
  return Object.entries(openApiDocument.paths)
    .flatMap(([path, item]) =>
      Object.keys(item)
        .filter((k) => k !== 'parameters')
        .map((method) => `${method.toUpperCase()} ${path}`),
    )
    .sort();
}

test('the document describes exactly the routes the app serves', (t) => {
  t.deepEqual(documentedRoutes(), servedRoutes());
});

test('the document is valid OpenAPI 3.1', async (t) => {
  const doc = (await fetch(`${api.base}/openapi.json`).then((r) => r.json())) as Parameters<
    typeof SwaggerParser.validate
  >[0] & { openapi: string };
  t.is(doc.openapi, '3.1.0');
  await t.notThrowsAsync(SwaggerParser.validate(structuredClone(doc)));
});

test('every documented error status is one the route can answer', async (t) => {
  // A sample of answers checked against the document: the codes the tests see are documented.
  const paths = openApiDocument.paths as Record<string, Record<string, { responses?: Record<string, unknown> }>>;
  const documented = (path: string, method: string, status: number) =>
    String(status) in (paths[path]![method]!.responses ?? {});
  const reset = await api.request('POST', '/user/pwd_reset_token/', { json: { email: 'nope' } });
  t.true(documented('/user/pwd_reset_token', 'post', reset.status));
  const login = await api.request('POST', '/token', { form: { username: 'x', password: 'y' } });
  t.true(documented('/token', 'post', login.status));
  const missing = await api.request('GET', '/user/nobody/');
  t.true(documented('/user/{username}', 'get', missing.status));
  const change = await api.request('POST', '/user/nobody/password/', { json: {} });
  t.true(documented('/user/{username}/password', 'post', change.status));
});

test('the docs page and its assets are served from the package, offline', async (t) => {
  const page = await fetch(`${api.base}/docs`);
  t.is(page.status, 200);
  const html = await page.text();
  t.regex(html, /swagger-ui-bundle\.js/);
  for (const asset of [
    '/docs/swagger-ui.css',
    '/docs/swagger-ui-bundle.js',
    '/docs/swagger-ui-standalone-preset.js',
    '/docs/init.js',
  ]) {
    const res = await fetch(api.base + asset);
    t.is(res.status, 200, asset);
    t.true((await res.arrayBuffer()).byteLength > 0, asset);
  }
  t.is((await fetch(`${api.base}/docs/../package.json`)).status, 404);
  t.is((await fetch(`${api.base}/docs/index.js`)).status, 404);
});
