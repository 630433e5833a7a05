/**
 * Splits a client's output into lines with a bound: at most `maxLine` bytes are kept per line (the
 * rest of an overlong line is dropped and counted), so a client that prints without newlines
 * cannot make the daemon buffer without limit. Pure apart from the callback.
 */
export class BoundedLines {
  private buf = '';
  private overflow = false;
  /** Characters dropped from overlong lines. */
  dropped = 0;

  constructor(
    private readonly onLine: (line: string) => void,
    readonly maxLine = 1024,
  ) {}

  push(chunk: string): void {
    let rest = chunk;
    for (;;) {
      const nl = rest.indexOf('\n');
      const part = nl < 0 ? rest : rest.slice(0, nl);
      if (!this.overflow) {
        const room = this.maxLine - this.buf.length;
        if (part.length > room) {
          this.buf += part.slice(0, room);
          this.dropped += part.length - room;
          this.overflow = true;
        } else this.buf += part;
      } else this.dropped += part.length;
      if (nl < 0) return;
      this.onLine(this.buf);
      this.buf = '';
      this.overflow = false;
      rest = rest.slice(nl + 1);
    }
  }
}
