/** `dundie preview <template>`: an e-mail or a page rendered with sample data, for whoever edits templates. */
import { writeFileSync } from 'node:fs';
import process from 'node:process';
import { parseArgs } from 'node:util';
import type { Settings } from '../config.ts';
import { isLocale } from '../locales.ts';
import { PREVIEWS, renderPreview } from '../pages/preview.ts';
import { UsageError } from './support.ts';

export async function previewCommand(args: string[], config: Settings): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { locale: { type: 'string', default: config.email.DEFAULT_LOCALE }, out: { type: 'string' } },
  });
  const [name] = positionals;
  if (!name || !PREVIEWS.includes(name)) throw new UsageError(`preview takes one of: ${PREVIEWS.join(', ')}`);
  if (!isLocale(values.locale)) throw new UsageError(`--locale must be en or pt-BR, got "${values.locale}"`);
  const preview = await renderPreview(name, values.locale, config);
  if (preview.kind === 'page') {
    if (values.out) writeFileSync(values.out, preview.html);
    else process.stdout.write(preview.html);
    return;
  }
  const { mail, template } = preview;
  if (values.out) {
    const htmlFile = values.out.replace(/\.(txt|eml)$/, '') + '.html';
    writeFileSync(values.out, mail.rendered + '\n');
    if (mail.html) writeFileSync(htmlFile, mail.html);
    console.log(`wrote ${values.out}${mail.html ? ` and ${htmlFile}` : ''} (templates/${template})`);
    return;
  }
  console.log(`--- text: templates/${template}.liquid ---\n${mail.rendered}`);
  if (mail.html) console.log(`--- html: templates/${template}.html.liquid ---\n${mail.html}`);
}
