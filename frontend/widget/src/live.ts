/**
 * The conversation's live event stream, kept open with reconnects: it resumes after the last
 * event id it saw (`Last-Event-ID`), backs off after failures, and stops for good on 204 (the
 * conversation is closed), on 401/403/404, when `onEvent` says the stream is over, or on stop().
 */
import { ApiError } from "./api";
import { readSSE, type SSEEvent } from "./sse";

export type Opener = (lastEventId: string | null, signal: AbortSignal) => Promise<Response>;

export const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000, 30000];

/** The delay before reconnect attempt `n` (0-based), with up to 20% jitter. */
export function backoff(n: number, random = Math.random): number {
  const base = BACKOFF_MS[Math.min(n, BACKOFF_MS.length - 1)];
  return Math.round(base * (1 + 0.2 * random()));
}

export interface LiveOptions {
  /** called with each event; return true when it is the last one (the conversation closed) */
  onEvent: (e: SSEEvent) => boolean | void;
  /** called once when the stream stops for good (not on stop()) */
  onEnd?: (reason: "closed" | "refused") => void;
  /** for tests: how to wait between attempts */
  delay?: (ms: number) => number;
}

export class LiveStream {
  lastEventId: string | null = null;
  private stopped = false;
  private failures = 0;
  private ctrl: AbortController | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly open: Opener,
    private readonly opts: LiveOptions,
  ) {}

  start(): this {
    void this.run();
    return this;
  }

  stop(): void {
    this.stopped = true;
    this.ctrl?.abort();
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
  }

  get running(): boolean {
    return !this.stopped;
  }

  private end(reason: "closed" | "refused"): void {
    if (this.stopped) return;
    this.stopped = true;
    this.opts.onEnd?.(reason);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.ctrl = new AbortController();
      let final = false;
      try {
        const res = await this.open(this.lastEventId, this.ctrl.signal);
        if (res.status === 204) return this.end("closed");
        await readSSE(res.body, (e) => {
          if (this.stopped) return true;
          this.lastEventId = e.id ?? this.lastEventId;
          this.failures = 0;
          final = this.opts.onEvent(e) === true;
          return final;
        });
        if (final) return this.end("closed");
      } catch (e) {
        if (this.stopped) return;
        if (e instanceof ApiError && [401, 403, 404].includes(e.status)) return this.end("refused");
      }
      if (this.stopped) return;
      await this.sleep(backoff(this.failures++));
    }
  }

  private sleep(ms: number): Promise<void> {
    const wait = this.opts.delay ? this.opts.delay(ms) : ms;
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, wait);
    });
  }
}
