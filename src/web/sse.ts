/**
 * Server-sent events framing (the `text/event-stream` format of the HTML standard), pure: an
 * event is `event: NAME`, one `data:` line per line of its text, and a blank line. The text is
 * JSON here, which never holds a raw newline, but any CR, LF or CRLF is split anyway so no value
 * can end a frame early or inject a field. Names are restricted to `[a-z][a-z0-9-]*`.
 */

const NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** One event frame carrying `data` as JSON. */
export function sseEvent(name: string, data: unknown, id?: number): string {
  if (!NAME.test(name)) throw new RangeError(`bad server-sent event name ${JSON.stringify(name)}`);
  const text = JSON.stringify(data) ?? 'null';
  const lines = text.split(/\r\n|\r|\n/);
  return `${id !== undefined ? `id: ${Math.trunc(id)}\n` : ''}event: ${name}\n${lines.map((l) => `data: ${l}\n`).join('')}\n`;
}

/** A comment line (ignored by browsers): keeps an idle stream open and finds dead clients. */
export function sseComment(text = ''): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/** How long a browser waits before reconnecting (milliseconds). */
export function sseRetry(ms: number): string {
  return `retry: ${Math.max(0, Math.trunc(ms))}\n\n`;
}

/**
 * Parse frames back (for tests and tools): the inverse of {@link sseEvent} for complete input.
 * Comments and `retry:` are skipped; an event without `event:` is called "message".
 */
export function parseSse(text: string): { event: string; data: string; id?: string }[] {
  const out: { event: string; data: string; id?: string }[] = [];
  for (const block of text.split(/\r\n\r\n|\n\n|\r\r/)) {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    let any = false;
    for (const line of block.split(/\r\n|\r|\n/)) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') {
        data.push(value);
        any = true;
      } else if (field === 'id') id = value;
    }
    if (any) out.push(id !== undefined ? { event, data: data.join('\n'), id } : { event, data: data.join('\n') });
  }
  return out;
}
