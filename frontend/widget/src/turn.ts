/** One answer turn: the SSE events of `POST .../messages`, read into callbacks. */
import { jsonData, readSSE } from "./sse";
import type { Source } from "./types";

export interface Meta {
  intent?: string | null;
  confidence?: number | null;
  route?: string;
  llm_available?: boolean;
}

export interface TurnHandlers {
  meta?(meta: Meta): void;
  token(text: string): void;
  replace(text: string): void;
  error(err: { code: string; message: string; discard_partial: boolean }): void;
  sources(sources: Source[]): void;
  done(messageId: number | null): void;
}

/** Read the answer stream; resolves true when `done` arrived, false when the stream ended early. */
export async function readTurn(res: Response, h: TurnHandlers): Promise<boolean> {
  let done = false;
  await readSSE(res.body, (e) => {
    const d = jsonData<Record<string, unknown>>(e);
    if (!d || typeof d !== "object") return;
    switch (e.event) {
      case "meta":
        h.meta?.(d as Meta);
        break;
      case "token":
        if (typeof d.text === "string") h.token(d.text);
        break;
      case "replace":
        if (typeof d.text === "string") h.replace(d.text);
        break;
      case "error":
        h.error({
          code: String(d.code ?? "error"),
          message: String(d.message ?? ""),
          discard_partial: d.discard_partial === true,
        });
        break;
      case "sources":
        h.sources(Array.isArray(d.sources) ? (d.sources as Source[]).filter(isSource) : []);
        break;
      case "done":
        done = true;
        h.done(typeof d.message_id === "number" ? d.message_id : null);
        return true;
    }
  });
  return done;
}

export function isSource(s: unknown): s is Source {
  const x = s as Source;
  return !!x && typeof x === "object" && typeof x.number === "number";
}
