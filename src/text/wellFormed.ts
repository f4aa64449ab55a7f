/**
 * Strings that are whole Unicode. JSON may carry a lone UTF-16 surrogate (`"\ud800"`) that no
 * UTF-8 text can hold: PostgreSQL's jsonb refuses it (a 500 before this check) and a text column
 * silently gets U+FFFD instead. Checked at the edge, it is the caller's 422.
 */

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

type WithIsWellFormed = string & { isWellFormed?: () => boolean };

/** True when `value` holds no lone surrogate (`String.prototype.isWellFormed` where there is one). */
export function isWellFormed(value: string): boolean {
  const own = (value as WithIsWellFormed).isWellFormed;
  return typeof own === 'function' ? own.call(value) : !LONE_SURROGATE.test(value);
}
