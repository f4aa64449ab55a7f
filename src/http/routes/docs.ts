/**
 * `/openapi.json` and the interactive docs at `/docs`: Swagger UI from the `swagger-ui-dist`
 * package's own files, served by us, so the docs work with no network access.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import Router from '@koa/router';
import { notFound } from '../../web/httpError.ts';
import { openApiDocument } from '../openapi.ts';

const distDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'index.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const page = `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Dundie API</title>
    <link rel="stylesheet" href="/docs/swagger-ui.css">
    <link rel="stylesheet" href="/docs/index.css">
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/swagger-ui-standalone-preset.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

const init = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'StandaloneLayout',
});
`;

/**
 * Swagger UI loads only its own files, fetches only /openapi.json and sets inline styles and
 * data: icons; nothing else may run, and no other site may frame it (clickjacking the "Try it out"
 * buttons with a victim's token).
 */
const DOCS_HEADERS = {
  'Content-Security-Policy': [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

export function docsRouter(): Router {
  const router = new Router({ sensitive: true });
  const cache = new Map<string, Buffer>();

  router.get('/openapi.json', (ctx) => {
    ctx.body = openApiDocument;
  });

  router.get('/docs', (ctx) => {
    ctx.set(DOCS_HEADERS);
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = page;
  });

  router.get('/docs/init.js', (ctx) => {
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.body = init;
  });

  router.get('/docs/:asset', async (ctx) => {
    const { asset } = ctx.params;
    const type = ASSETS[asset!];
    if (!type) throw notFound();
    let content = cache.get(asset!);
    if (!content) {
      content = await readFile(path.join(distDir, asset!));
      cache.set(asset!, content);
    }
    ctx.type = type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = content;
  });

  return router;
}
