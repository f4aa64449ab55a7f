/**
 * The interactive docs in a real browser: headless Chromium (Debian's `chromium`) driven by
 * playwright-core opens /docs, sends a reset request from the page and saves a screenshot.
 */
import test from 'ava';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { CHROMIUM, launchChromium } from '../helpers/browser.ts';
import { PWD_RESET_MESSAGE } from '../../src/commands/requestPwdReset.ts';
import { testConfig } from '../helpers/config.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { startApi } from '../helpers/service.ts';

const SCREENSHOTS = path.resolve('test-results');

if (!existsSync(CHROMIUM)) {
  test.skip(`docs in a browser: SKIPPED, no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`, () => {});
} else {
  test('the docs page sends a reset request and shows the answer', async (t) => {
    const tdb = await createTestDatabase('browser');
    t.teardown(() => tdb.drop());
    const api = await startApi(testConfig(tdb.url));
    t.teardown(() => api.service.stop());
    const browser = await launchChromium();
    t.teardown(() => browser.close());
    const page = await browser.newPage();

    await page.goto(`${api.base}/docs`);
    const operation = page.locator('#operations-default-post_user_pwd_reset_token');
    await operation.locator('.opblock-summary').click();
    await operation.getByRole('button', { name: 'Try it out' }).click();
    await operation.locator('textarea.body-param__text').fill(JSON.stringify({ email: 'mscott@dm.com' }));
    await operation.getByRole('button', { name: 'Execute' }).click();
    const answer = operation.locator('.live-responses-table .response-col_description .microlight').first();
    await answer.waitFor();
    t.regex(await answer.innerText(), new RegExp(PWD_RESET_MESSAGE.replace(/\./g, '\\.')));

    mkdirSync(SCREENSHOTS, { recursive: true });
    const file = path.join(SCREENSHOTS, 'docs-pwd-reset.png');
    await page.screenshot({ path: file, fullPage: true });
    t.log(`screenshot: ${file}`);
    const row = await tdb.db('outbox').first();
    // Chromium says Accept-Language: en-US; the e-mail follows it (issue 12).
    t.like(row.payload, { email: 'mscott@dm.com', locale: 'en' });
  });
}
