/**
 * Renders a Liquid template into an e-mail and sends it by the configured transport: appended to
 * `email.log` (`log`, debug mode), through SMTP with nodemailer (`smtp`), or posted as signed JSON
 * (`http`, `httpChannel.ts`). Templates are parsed once and cached.
 *
 * A template starts with `From:`, `To:` and `Subject:` lines and a blank line, then the body,
 * so operators edit one file and see in `email.log` exactly what the SMTP path would send.
 * Over SMTP a message also carries an HTML part when `<template>.html.liquid` exists; it is
 * rendered with every value HTML-escaped.
 */
import { appendFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { Liquid, type Template } from 'liquidjs';
import nodemailer from 'nodemailer';
import { randomUUID } from 'node:crypto';
import { emailTransport, type Settings } from '../config.ts';
import { templatesDir } from '../paths.ts';
import { createHttpChannel } from './httpChannel.ts';
import { composeMime } from './mime.ts';
import { recipients } from './recipients.ts';

export interface Mail {
  from: string;
  to: string;
  subject: string;
  text: string;
  /** The whole rendered template, headers included: what debug mode logs. */
  rendered: string;
  /** The HTML part, when the template has one. */
  html?: string;
}

export interface SendOptions {
  /** The message's stable id: the same on every try of one message (the http transport's `webhook-id`). */
  id?: string;
  /** Aborted: a message still waiting for an SMTP connection is not sent (`SendNotStarted`). */
  signal?: AbortSignal;
}

/** The message was still waiting for a connection when the send was called off: nothing went out. */
export class SendNotStarted extends Error {
  constructor() {
    super('called off while waiting for an SMTP connection: not sent');
    this.name = 'SendNotStarted';
  }
}

/**
 * At most `size` holders at once; the rest wait in arrival order. A waiter whose signal aborts
 * leaves the line with `SendNotStarted`.
 */
function connectionSlots(size: number) {
  let free = size;
  const waiting: { go: () => void; stop: () => void }[] = [];
  return {
    acquire(signal?: AbortSignal): Promise<void> {
      if (signal?.aborted) return Promise.reject(new SendNotStarted());
      if (free > 0) {
        free--;
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        const waiter = {
          go: () => {
            signal?.removeEventListener('abort', waiter.stop);
            resolve();
          },
          stop: () => {
            waiting.splice(waiting.indexOf(waiter), 1);
            reject(new SendNotStarted());
          },
        };
        signal?.addEventListener('abort', waiter.stop, { once: true });
        waiting.push(waiter);
      });
    },
    release(): void {
      const next = waiting.shift();
      if (next) next.go();
      else free++;
    },
  };
}

export interface Mailer {
  /** `locale`: the language of the request that caused the e-mail; else email.DEFAULT_LOCALE. */
  send(template: string, vars: Record<string, unknown>, locale?: string, options?: SendOptions): Promise<void>;
  render(template: string, vars: Record<string, unknown>, withHtml?: boolean): Promise<Mail>;
  close(): void;
}

/** Splits a rendered template into its header lines and its body. */
export function parseRendered(rendered: string): Mail {
  const normalized = rendered.replace(/\r\n/g, '\n');
  const split = normalized.indexOf('\n\n');
  if (split < 0) throw new Error('template has no blank line between headers and body');
  const headers = new Map<string, string>();
  for (const line of normalized.slice(0, split).split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const [from, to, subject] = ['from', 'to', 'subject'].map((name) => {
    const value = headers.get(name);
    if (!value) throw new Error(`template has no ${name} header`);
    return value;
  }) as [string, string, string];
  return { from, to, subject, text: normalized.slice(split + 2), rendered: normalized.replace(/\n+$/, '') };
}

/**
 * The template of `template` in `locale`: `templates/<locale>/<template>.liquid` when it exists;
 * English (and any language without its own copy) is the template at the top of `templates/`,
 * the shape SPEC §5 gives.
 */
export function localizedTemplate(template: string, locale: string | undefined, templates = templatesDir): string {
  if (!locale || locale === 'en' || !/^[A-Za-z]{2}(-[A-Za-z]{2})?$/.test(locale)) return template;
  return existsSync(path.join(templates, locale, `${template}.liquid`)) ? `${locale}/${template}` : template;
}

/** A message goes to one person: a `To` that nodemailer would read as several is refused, never sent. */
export function assertOneRecipient(recipientsOfTo: readonly string[]): void {
  const count = recipientsOfTo.length;
  if (count !== 1) {
    // Shaped as nodemailer's own envelope refusal, so `refusals.ts` counts it final: no retry can help.
    throw Object.assign(new Error(`refusing to send: the To address stands for ${count} recipients`), {
      code: 'EENVELOPE',
      command: 'API',
    });
  }
}

/**
 * Renders a template file, parsed on first use. liquidjs caches what it parsed, but its
 * `renderFile` still looks the file up on disk each time (realpath, stat), for every e-mail.
 */
function parsedOnce(engine: Liquid): (file: string, vars: Record<string, unknown>) => Promise<string> {
  const parsed = new Map<string, Promise<Template[]>>();
  return (file, vars) => {
    let templates = parsed.get(file);
    if (!templates) {
      templates = engine.parseFile(file);
      parsed.set(file, templates);
      templates.catch(() => parsed.delete(file));
    }
    return templates.then((t) => engine.render(t, vars));
  };
}

export function createMailer(
  email: Settings['email'],
  { templates = templatesDir, maxConnections = email.smtp_connections } = {},
): Mailer {
  const inLocale = (template: string, locale: string | undefined) =>
    localizedTemplate(template, locale ?? email.DEFAULT_LOCALE, templates);
  const liquid = parsedOnce(new Liquid({ root: templates, extname: '.liquid', cache: true, strictVariables: true }));
  const htmlLiquid = parsedOnce(
    new Liquid({ root: templates, extname: '.liquid', cache: true, strictVariables: true, outputEscape: 'escape' }),
  );
  const hasHtml = new Map<string, boolean>();
  const render = async (template: string, vars: Record<string, unknown>, withHtml = true): Promise<Mail> => {
    const mail = parseRendered(await liquid(template, vars));
    if (!withHtml) return mail;
    if (!hasHtml.has(template)) hasHtml.set(template, existsSync(path.join(templates, `${template}.html.liquid`)));
    if (hasHtml.get(template)) mail.html = await htmlLiquid(`${template}.html.liquid`, vars);
    return mail;
  };

  const way = emailTransport(email);
  if (way === 'log') {
    const logFile = path.resolve(email.log_file);
    return {
      render,
      async send(template, vars, locale) {
        const mail = await render(inLocale(template, locale), vars, false);
        assertOneRecipient(recipients(mail.to));
        // Synchronous on purpose: cheap on a local file, where the promise version pays a hop
        // through the thread pool for each of open, write and close (docs/performance.md).
        // Opened per message, so an `rm email.log` is followed by a fresh file.
        appendFileSync(logFile, `--- START EMAIL ${mail.to} ---\n${mail.rendered}\n--- END OF EMAIL ---\n`);
      },
      close() {},
    };
  }

  const timeout = email.timeout_seconds * 1000;
  if (way === 'http') {
    const channel = createHttpChannel({ url: email.HTTP_URL!, secret: email.HTTP_SECRET!, timeoutMs: timeout });
    return {
      render,
      async send(template, vars, locale, { id } = {}) {
        const localized = inLocale(template, locale);
        const { from, to, subject, text, html } = await render(localized, vars);
        assertOneRecipient(recipients(to));
        await channel.send({
          id: id ?? `msg_${randomUUID()}`,
          kind: template,
          // The language it was written in: a localized copy's folder, else the English template's.
          locale: localized.includes('/') ? localized.split('/')[0]! : 'en',
          from,
          to,
          subject,
          text,
          html,
        });
      },
      close() {},
    };
  }

  // Pooled: a connection (TLS and login included) is reused across messages instead of paid per e-mail.
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections,
    // nodemailer's default closes a pooled connection after 100 messages: a new TCP (and TLS,
    // and login) handshake every 100 e-mails for nothing.
    maxMessages: Infinity,
    host: email.smtp_server,
    port: email.smtp_port,
    secure: email.smtp_port === 465,
    auth: email.smtp_user ? { user: email.smtp_user, pass: email.smtp_password ?? '' } : undefined,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  });
  // Messages wait for a connection here rather than in nodemailer's pool, so that a stop can take
  // back those that have not started (the dispatcher hands their rows back at once).
  const slots = connectionSlots(maxConnections);
  return {
    render,
    async send(template, vars, locale, { signal } = {}) {
      const { from, to, subject, text, html } = await render(inLocale(template, locale), vars);
      const { raw, messageId, envelope } = composeMime({ from, to, subject, text, html });
      // Counted on the envelope itself: its recipients are the ones that get RCPT TO.
      assertOneRecipient(envelope.to);
      await slots.acquire(signal);
      try {
        await transport.sendMail({ envelope, raw, messageId });
      } finally {
        slots.release();
      }
    },
    close: () => transport.close(),
  };
}
