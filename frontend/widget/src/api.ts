/** The widget API client: JSON calls, error mapping, and the two streamed endpoints. */
import type { Conversation, Identity, ServerMessage, Started, WidgetConfig } from "./types";
import type { Strings } from "./i18n";

const VISITOR_HEADER = "X-Deskpilot-Visitor";

/** An HTTP error (`{"error": {"code", "message"}}`), or status 0 for a network failure. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** seconds, from Retry-After (429) */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), else null. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\s*\d+\s*$/.test(value)) return parseInt(value, 10);
  const at = Date.parse(value);
  return isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The ApiError of a failed response (its JSON error body when it has one). */
export async function toApiError(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = await res.json();
    const err = body && body.error;
    if (err && typeof err === "object") {
      if (typeof err.code === "string") code = err.code;
      if (typeof err.message === "string") message = err.message;
    } else if (body && typeof body.detail === "string") {
      message = body.detail;
    }
  } catch {
    /* not JSON: keep the status line */
  }
  return new ApiError(res.status, code, message, parseRetryAfter(res.headers.get("Retry-After")));
}

/** What to tell the visitor about a failed call. */
export function describeError(err: unknown, t: Strings): string {
  if (!(err instanceof ApiError)) return t.error;
  if (err.status === 0) return t.offline;
  if (err.status === 429) {
    return err.retryAfter ? `${t.tooFast} (${t.retryIn(err.retryAfter)})` : t.tooFast;
  }
  if (err.status === 413 || err.status === 422) return err.message;
  if (err.status === 403) return t.unavailable;
  return t.error;
}

/** Whether retrying the same call later may work (network, rate limit, server errors). */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof ApiError)) return true;
  return err.status === 0 || err.status === 429 || err.status >= 500;
}

type Fetch = typeof fetch;

export class Api {
  /** the visitor token, sent as X-Deskpilot-Visitor once known */
  token: string | null = null;

  constructor(
    readonly base: string,
    readonly siteKey: string,
    private readonly fetchImpl: Fetch = (...a) => fetch(...a),
  ) {}

  /** One call; resolves with an ok (2xx) response, rejects with an ApiError. */
  async call(
    method: string,
    path: string,
    opts: { json?: unknown; signal?: AbortSignal; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...opts.headers };
    if (this.token) headers[VISITOR_HEADER] = this.token;
    if (opts.json !== undefined) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await this.fetchImpl(this.base + path, {
        method,
        headers,
        body: opts.json === undefined ? undefined : JSON.stringify(opts.json),
        signal: opts.signal,
        credentials: "omit",
      });
    } catch (e) {
      if (e && (e as Error).name === "AbortError") throw e;
      throw new ApiError(0, "network", (e as Error)?.message || "network error");
    }
    if (!res.ok) throw await toApiError(res);
    return res;
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.call(method, path, { json: body });
    return (await res.json()) as T;
  }

  config(): Promise<WidgetConfig> {
    return this.json("GET", `/api/v1/widget/config?site_key=${encodeURIComponent(this.siteKey)}`);
  }

  /** Start a conversation (a stored token keeps the visitor's identity). */
  start(): Promise<Started> {
    return this.json("POST", "/api/v1/widget/conversations", { site_key: this.siteKey });
  }

  messages(conversationId: number): Promise<ServerMessage[]> {
    return this.json("GET", `/api/v1/widget/conversations/${conversationId}/messages?limit=100`);
  }

  /** Send a message: the answer comes back as SSE (read it with readTurn). */
  send(conversationId: number, text: string, signal?: AbortSignal): Promise<Response> {
    return this.call("POST", `/api/v1/widget/conversations/${conversationId}/messages`, {
      json: { text },
      signal,
      headers: { Accept: "text/event-stream" },
    });
  }

  handoff(conversationId: number): Promise<Conversation> {
    return this.json("POST", `/api/v1/widget/conversations/${conversationId}/handoff`);
  }

  async feedback(messageId: number, rating: "up" | "down", comment: string | null): Promise<void> {
    await this.call("POST", `/api/v1/widget/messages/${messageId}/feedback`, {
      json: { rating, comment },
    });
  }

  async identify(conversationId: number, who: Identity): Promise<void> {
    await this.call("PUT", `/api/v1/widget/conversations/${conversationId}/visitor`, {
      json: { name: who.name ?? null, email: who.email ?? null },
    });
  }

  /** The live event stream (200 SSE, or 204 when the conversation is closed). */
  events(conversationId: number, lastEventId: string | null, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    if (lastEventId) headers["Last-Event-ID"] = lastEventId;
    return this.call("GET", `/api/v1/widget/conversations/${conversationId}/events`, {
      signal,
      headers,
    });
  }
}
