/**
 * Headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: the
 * browser reads JSON messages on fd 3 and writes them on fd 4, each ending with a NUL byte), so
 * no port is opened and nothing but Debian's `chromium` is needed. Started through the caller's
 * spawn, e.g. a lab's `spawn('router', …)`, so it runs inside that namespace and is ended by PID
 * with the lab. One page per browser, which is all the dashboard test needs.
 *
 *   const b = await Browser.launch((argv, opts) => lab.spawn('router', argv, opts), dir);
 *   await b.goto('http://127.0.0.1:8787/');
 *   const r = await b.waitFor('document.querySelectorAll(".card").length === 3', 10_000);
 *   await b.screenshot('page.png');
 *   await b.close();
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';

import type { Readable, Writable } from 'node:stream';

export const CHROMIUM = '/usr/bin/chromium';
/** Longest wait for one DevTools command (milliseconds). */
const CALL_TIMEOUT_MS = 120_000;

export const chromiumInstalled = (): boolean => existsSync(CHROMIUM);

type Spawner = (argv: string[], opts: SpawnOptions) => ChildProcess;

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  method: string;
}

/** What the page printed and what the browser logged (CSP violations land here). */
export interface ConsoleLine {
  source: string;
  level: string;
  text: string;
}

export class Browser {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(method: string, params: Record<string, unknown>, sessionId?: string) => void>();
  private session = '';
  readonly console: ConsoleLine[] = [];
  private stderr = '';
  private exited = false;

  private constructor(
    private readonly child: ChildProcess,
    private readonly profile: string,
  ) {
    const out = child.stdio[4] as Readable;
    let buf = Buffer.alloc(0);
    out.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      let z;
      while ((z = buf.indexOf(0)) >= 0) {
        const msg = JSON.parse(buf.subarray(0, z).toString('utf8')) as { id?: number; result?: Record<string, unknown>; error?: { message: string }; method?: string; params?: Record<string, unknown>; sessionId?: string };
        buf = buf.subarray(z + 1);
        if (msg.id !== undefined) {
          const p = this.pending.get(msg.id);
          this.pending.delete(msg.id);
          if (msg.error) p?.reject(new Error(`${p.method}: ${msg.error.message}`));
          else p?.resolve(msg.result ?? {});
        } else if (msg.method) for (const l of this.listeners) l(msg.method, msg.params ?? {}, msg.sessionId);
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      if (this.stderr.length < 64 * 1024) this.stderr += d.toString();
    });
    child.once('exit', () => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`chromium exited during ${p.method}: ${this.stderr.slice(-2000)}`));
      this.pending.clear();
    });
    this.listeners.add((method, params) => {
      if (method === 'Runtime.consoleAPICalled') {
        const args = (params.args as { value?: unknown; description?: string }[]) ?? [];
        this.console.push({ source: 'console', level: String(params.type), text: args.map((a) => (a.value !== undefined ? JSON.stringify(a.value) : (a.description ?? ''))).join(' ') });
      } else if (method === 'Log.entryAdded') {
        const e = params.entry as { source: string; level: string; text: string };
        this.console.push({ source: e.source, level: e.level, text: e.text });
      } else if (method === 'Runtime.exceptionThrown') {
        const d = params.exceptionDetails as { text: string; exception?: { description?: string } };
        this.console.push({ source: 'exception', level: 'error', text: `${d.text} ${d.exception?.description ?? ''}` });
      }
    });
  }

  /** Start chromium (headless, its own throw-away profile) and open one page of `width`×`height`. */
  static async launch(spawn: Spawner, opts: { width?: number; height?: number } = {}): Promise<Browser> {
    const profile = mkdtempSync('/tmp/wanbraid-chromium-');
    const argv = [
      CHROMIUM,
      '--headless=new',
      '--remote-debugging-pipe',
      // Root in a lab namespace: chromium's sandbox needs user namespaces it cannot have here.
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      `--user-data-dir=${profile}`,
      '--no-first-run',
      '--no-default-browser-check',
      // Nothing of its own on the network: the lab namespace has only lab addresses anyway.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-features=Translate,MediaRouter,OptimizationHints',
      '--no-pings',
      '--mute-audio',
      '--hide-scrollbars',
      '--font-render-hinting=none',
      'about:blank',
    ];
    const child = spawn(argv, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    const b = new Browser(child, profile);
    const { targetId } = (await b.call('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await b.call('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    b.session = sessionId;
    await b.send('Page.enable');
    await b.send('Runtime.enable');
    await b.send('Log.enable');
    await b.send('Emulation.setDeviceMetricsOverride', { width: opts.width ?? 1400, height: opts.height ?? 1200, deviceScaleFactor: 1, mobile: false });
    return b;
  }

  /** A browser-level command. */
  call(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    if (this.exited) return Promise.reject(new Error(`chromium has exited: ${this.stderr.slice(-2000)}`));
    const id = this.nextId++;
    const input = this.child.stdio[3] as Writable;
    return new Promise((resolve, reject) => {
      // A browser that stops answering fails the test instead of hanging it. Generous: a command
      // that waits in the page (waitFor) brings its own, shorter limit.
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer from chromium within ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      const done = <T>(f: (v: T) => void) => (v: T) => {
        clearTimeout(t);
        f(v);
      };
      this.pending.set(id, { resolve: done(resolve), reject: done(reject), method });
      input.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    });
  }

  /** A command to the page. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.call(method, params, this.session);
  }

  /** Resolves with the params of the page's next `method` event. */
  next(method: string, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.listeners.delete(l);
        reject(new Error(`no ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      const l = (m: string, params: Record<string, unknown>, sessionId?: string) => {
        if (m !== method || sessionId !== this.session) return;
        clearTimeout(t);
        this.listeners.delete(l);
        resolve(params);
      };
      this.listeners.add(l);
    });
  }

  /** Navigate and wait for the load event. */
  async goto(url: string, timeoutMs = 15_000): Promise<void> {
    const loaded = this.next('Page.loadEventFired', timeoutMs);
    const r = (await this.send('Page.navigate', { url })) as { errorText?: string };
    if (r.errorText) throw new Error(`navigate ${url}: ${r.errorText}`);
    await loaded;
  }

  /** Evaluate an expression in the page (awaiting a promise it returns) and return its value. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true })) as { result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } };
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /**
   * Start waiting, inside the page, until `condition` (a JavaScript expression) is truthy: checked
   * now and on every DOM change (a MutationObserver, no polling). Resolves with the page's clock
   * (Date.now(), epoch ms) at the moment it held and the expression's value; rejects after
   * `timeoutMs`.
   */
  waitFor<T = unknown>(condition: string, timeoutMs: number): Promise<{ at: number; value: T }> {
    return this.evaluate<{ at: number; value: T } | { timeout: true; last: string }>(`new Promise((resolve) => {
      const cond = () => (${condition});
      let obs;
      const t = setTimeout(() => { obs?.disconnect(); resolve({ timeout: true, last: document.body ? document.body.innerText.slice(0, 1500) : '' }); }, ${timeoutMs});
      const check = () => { let v; try { v = cond(); } catch { v = undefined; } if (v) { clearTimeout(t); obs?.disconnect(); resolve({ at: Date.now(), value: v }); return true; } return false; };
      if (!check()) { obs = new MutationObserver(check); obs.observe(document, { subtree: true, childList: true, attributes: true, characterData: true }); }
    })`).then((r) => {
      if ('timeout' in r) throw new Error(`the page did not satisfy ${condition} within ${timeoutMs} ms; it shows: ${r.last}`);
      return r;
    });
  }

  /** A PNG of the whole page (its full height, at the viewport's width). */
  async screenshot(file: string): Promise<void> {
    const m = (await this.send('Page.getLayoutMetrics')) as { cssContentSize: { width: number; height: number } };
    const { data } = (await this.send('Page.captureScreenshot', {
      format: 'png',
      captureBeyondViewport: true,
      clip: { x: 0, y: 0, width: Math.ceil(m.cssContentSize.width), height: Math.ceil(m.cssContentSize.height), scale: 1 },
    })) as { data: string };
    writeFileSync(file, Buffer.from(data, 'base64'));
  }

  /** Close the browser (Browser.close, then SIGKILL by PID if it lingers) and remove its profile. */
  async close(): Promise<void> {
    if (!this.exited) {
      const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
      await this.call('Browser.close').catch(() => undefined);
      const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    }
    rmSync(this.profile, { recursive: true, force: true });
  }

  /** The chromium log so far (for failure messages). */
  get log(): string {
    return this.stderr;
  }
}

