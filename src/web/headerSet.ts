/**
 * Koa 3's `response.set` wraps each call in arrays of entries, maps them through a closure and
 * walks them with another: ~400 bytes of garbage per header, and Koa calls it itself for every
 * body's Content-Type and Content-Length. One header with a plain value goes to
 * `res.setHeader` at once here, as Koa's own path would end up doing; an object of headers or
 * an array value takes Koa's path, which also checks that single-value headers get one value.
 * Installed on the app's own response prototype (`app.response`, which Koa documents for
 * extending), so no other app is touched.
 */
import type Koa from 'koa';

type HeaderSet = (this: Koa.Response, field: unknown, val?: unknown) => void;

export function setHeadersDirectly(app: Koa): void {
  const koaSet = Reflect.get(app.response, 'set') as HeaderSet;
  const set: HeaderSet = function (field, val) {
    if (typeof field !== 'string' || Array.isArray(val)) return koaSet.call(this, field, val);
    if (this.headerSent || !field) return;
    this.res.setHeader(field, val as string | number);
  };
  Reflect.set(app.response, 'set', set);
}
