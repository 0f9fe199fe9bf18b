/**
 * Server-Sent Events over a fetch() body (EventSource cannot send our headers).
 * Follows the HTML spec's parsing rules: CR, LF or CRLF line ends (also split across chunks),
 * `:` comments, one optional space after the colon, multi-line `data`, `id` kept across events,
 * an unfinished event at the end of the stream is dropped.
 */

export interface SSEEvent {
  event: string;
  data: string;
  /** the last event id seen so far (sticky, as in EventSource); null before any */
  id: string | null;
}

export class SSEParser {
  private buf = "";
  private data: string[] = [];
  private type = "";
  private lastId: string | null = null;
  private started = false;
  private pendingCR = false;

  constructor(private readonly emit: (e: SSEEvent) => void) {}

  /** Feed decoded text; complete events are emitted at once. */
  feed(chunk: string): void {
    if (!this.started && chunk) {
      this.started = true;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    if (this.pendingCR && chunk.startsWith("\n")) chunk = chunk.slice(1); // CRLF split in two
    this.pendingCR = false;
    this.buf += chunk;
    let start = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (c !== "\n" && c !== "\r") continue;
      this.line(this.buf.slice(start, i));
      if (c === "\r") {
        if (i + 1 === this.buf.length) this.pendingCR = true;
        else if (this.buf[i + 1] === "\n") i++;
      }
      start = i + 1;
    }
    this.buf = this.buf.slice(start);
  }

  private line(line: string): void {
    if (line === "") return this.dispatch();
    if (line[0] === ":") return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value[0] === " ") value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.type = value;
    else if (field === "id" && value.indexOf("\0") < 0) this.lastId = value;
  }

  private dispatch(): void {
    const data = this.data;
    const type = this.type;
    this.data = [];
    this.type = "";
    if (!data.length) return;
    this.emit({ event: type || "message", data: data.join("\n"), id: this.lastId });
  }
}

/**
 * Read a response body as SSE until it ends; `onEvent` returning true stops early (the body is
 * cancelled). Rejects when the stream fails (network error, abort).
 */
export async function readSSE(
  body: ReadableStream<Uint8Array> | null,
  onEvent: (e: SSEEvent) => boolean | void,
): Promise<void> {
  if (!body) return;
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let stop = false;
  const parser = new SSEParser((e) => {
    if (!stop && onEvent(e) === true) stop = true;
  });
  try {
    while (!stop) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
    if (!stop) parser.feed(decoder.decode());
  } finally {
    if (stop) reader.cancel().catch(() => undefined);
    else reader.releaseLock();
  }
}

/** JSON of an event's data, or null when it is not JSON (never throws). */
export function jsonData<T>(e: SSEEvent): T | null {
  try {
    return JSON.parse(e.data) as T;
  } catch {
    return null;
  }
}
