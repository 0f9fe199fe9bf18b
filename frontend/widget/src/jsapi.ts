/**
 * `window.deskpilot`: open(), close(), toggle(), identify({name, email}), on(event, fn), off().
 * Calls made before the widget is ready wait in a queue, including those a page pushed on a
 * stub (`window.deskpilot = window.deskpilot || {q: []}; deskpilot.q.push(["open"])`).
 */
import type { Identity } from "./types";

export type EventName = "message" | "open" | "close" | "ready";
type Handler = (payload?: unknown) => void;

export const VERSION = "1";

export interface Controls {
  open(): void;
  close(): void;
  toggle(): void;
  identify(who: Identity): void;
}

export interface PublicApi extends Controls {
  version: string;
  on(event: EventName, fn: Handler): () => void;
  off(event: EventName, fn: Handler): void;
}

export class Emitter {
  private handlers = new Map<string, Set<Handler>>();
  /** payload of `ready` once it happened (late `on("ready")` handlers still get called) */
  private readyPayload: { value: unknown } | null = null;

  on(event: string, fn: Handler): () => void {
    if (typeof fn !== "function") return () => undefined;
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)!.add(fn);
    const ready = this.readyPayload;
    if (event === "ready" && ready) queueMicrotask(() => safeCall(fn, ready.value));
    return () => this.off(event, fn);
  }

  off(event: string, fn: Handler): void {
    this.handlers.get(event)?.delete(fn);
  }

  emit(event: EventName, payload?: unknown): void {
    if (event === "ready") this.readyPayload = { value: payload };
    this.handlers.get(event)?.forEach((fn) => safeCall(fn, payload));
  }
}

function safeCall(fn: Handler, payload: unknown): void {
  try {
    fn(payload);
  } catch (e) {
    console.error("[deskpilot] an event handler failed", e); // a page's bug must not break us
  }
}

type Call = [keyof Controls, unknown[]];

/** Install the API on `win.deskpilot`; bind() when the widget is ready, disable() if it never is. */
export function install(win: Window & { deskpilot?: unknown }, emitter: Emitter) {
  const stub = win.deskpilot as { q?: unknown[] } | undefined;
  let target: Controls | null = null;
  let disabled = false;
  const queue: Call[] = [];
  const call = (name: keyof Controls) => (...args: unknown[]) => {
    if (disabled) return;
    if (target) (target[name] as (...a: unknown[]) => void)(...args);
    else queue.push([name, args]);
  };
  const api: PublicApi = {
    version: VERSION,
    open: call("open"),
    close: call("close"),
    toggle: call("toggle"),
    identify: call("identify"),
    on: (event, fn) => emitter.on(event, fn),
    off: (event, fn) => emitter.off(event, fn),
  };
  win.deskpilot = api;
  // replay a stub's queue: entries are [method, ...args]
  const pending = stub && Array.isArray(stub.q) ? stub.q : [];
  for (const entry of pending) {
    if (!Array.isArray(entry) || typeof entry[0] !== "string") continue;
    const fn = (api as unknown as Record<string, unknown>)[entry[0]];
    if (typeof fn === "function" && entry[0] !== "version") fn(...entry.slice(1));
  }
  return {
    api,
    bind(controls: Controls): void {
      target = controls;
      queue.splice(0).forEach(([name, args]) => (controls[name] as (...a: unknown[]) => void)(...args));
    },
    disable(): void {
      disabled = true;
      queue.length = 0;
    },
  };
}
