/** Test helpers: SSE bodies, JSON responses and a routing fetch mock. */
import { vi } from "vitest";

const enc = new TextEncoder();

/** A stream of the given chunks (strings are UTF-8 encoded); `open` keeps it from ending. */
export function stream(chunks: (string | Uint8Array)[], opts: { open?: boolean; signal?: AbortSignal } = {}) {
  return new ReadableStream<Uint8Array>({
    start(c) {
      for (const x of chunks) c.enqueue(typeof x === "string" ? enc.encode(x) : x);
      if (!opts.open) c.close();
      opts.signal?.addEventListener("abort", () => {
        try {
          c.error(new DOMException("aborted", "AbortError"));
        } catch {
          /* already closed */
        }
      });
    },
  });
}

export const sse = (event: string, data: unknown, id?: number) =>
  `${id !== undefined ? `id: ${id}\n` : ""}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export function sseResponse(chunks: string[], opts: { open?: boolean; signal?: AbortSignal } = {}) {
  return new Response(stream(chunks, opts), { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

export const apiError = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  json({ error: { code, message } }, status, headers);

type Handler = (req: { url: URL; init: RequestInit; headers: Record<string, string>; body: any }) => Response | Promise<Response>;

/** A fetch mock: routes are "METHOD /path" (no query); each route is a handler or a list used in order. */
export function mockFetch(routes: Record<string, Handler | Handler[]>) {
  const calls: { method: string; path: string; url: URL; headers: Record<string, string>; body: any }[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(String(input));
    const method = (init.method || "GET").toUpperCase();
    const headers = { ...(init.headers as Record<string, string>) };
    const body = typeof init.body === "string" ? JSON.parse(init.body) : undefined;
    calls.push({ method, path: url.pathname, url, headers, body });
    const route = routes[`${method} ${url.pathname}`];
    const handler = Array.isArray(route) ? (route.length > 1 ? route.shift() : route[0]) : route;
    if (!handler) return new Response("{}", { status: 599 });
    return handler({ url, init, headers, body });
  });
  return { fetch: fn, calls };
}

export const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** Wait until `check` passes (polling), or fail after `ms`. */
export async function until(check: () => boolean | void, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (check() !== false) return;
    } catch (e) {
      if (Date.now() > end) throw e;
    }
    if (Date.now() > end) throw new Error("until: timed out");
    await tick(5);
  }
}
