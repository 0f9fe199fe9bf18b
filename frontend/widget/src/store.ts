/** The widget's state: messages (deduplicated by server id), status, panel, unread, offline. */
import type { ChatMessage, ConversationStatus, ServerMessage } from "./types";

export interface State {
  open: boolean;
  status: ConversationStatus | null;
  unread: number;
  /** a line for the whole panel (offline, an error) with an optional Retry button */
  banner: { text: string; retry: boolean } | null;
  messages: ChatMessage[];
}

type Listener = (s: State) => void;
let seq = 0;
export const newKey = (): string => `m${++seq}`;

/** A ChatMessage from a server message. */
export function fromServer(m: ServerMessage): ChatMessage {
  return { key: newKey(), id: m.id, role: m.role, text: m.text, sources: m.sources || [], v: 0 };
}

/**
 * Where a server message belongs among the widget's messages:
 * - `known`: a message with its id is already shown;
 * - `adopt`: it is a message shown before its id was known (the visitor's own message, or a
 *   bot answer whose stream broke before `done`): give that one the id;
 * - `append`: it is new (an agent's or system message, a message from another tab).
 */
export function placeServerMessage(
  messages: readonly ChatMessage[],
  m: ServerMessage,
): { kind: "known" } | { kind: "adopt"; key: string } | { kind: "append" } {
  if (messages.some((x) => x.id === m.id)) return { kind: "known" };
  if (m.role === "visitor" || m.role === "bot") {
    const twin = messages.find(
      (x) =>
        x.id === null &&
        !x.local &&
        !x.pending &&
        x.role === m.role &&
        (m.role === "bot" || (x.text === m.text && !x.failed)),
    );
    if (twin) return { kind: "adopt", key: twin.key };
  }
  return { kind: "append" };
}

export class Store {
  private state: State = {
    open: false,
    status: null,
    unread: 0,
    banner: null,
    messages: [],
  };
  private listeners = new Set<Listener>();

  get(): State {
    return this.state;
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  set(patch: Partial<State>): void {
    this.state = { ...this.state, ...patch };
    this.listeners.forEach((fn) => fn(this.state));
  }

  find(key: string): ChatMessage | undefined {
    return this.state.messages.find((m) => m.key === key);
  }

  add(m: Omit<ChatMessage, "key" | "v"> & { key?: string }): ChatMessage {
    const msg: ChatMessage = { ...m, key: m.key || newKey(), v: 0 };
    this.set({ messages: [...this.state.messages, msg] });
    return msg;
  }

  patch(key: string, patch: Partial<ChatMessage>): void {
    this.set({
      messages: this.state.messages.map((m) => (m.key === key ? { ...m, ...patch, v: m.v + 1 } : m)),
    });
  }

  remove(key: string): void {
    this.set({ messages: this.state.messages.filter((m) => m.key !== key) });
  }

  /** Merge a server message; returns the message when it is new to the visitor, else null. */
  merge(m: ServerMessage): ChatMessage | null {
    const place = placeServerMessage(this.state.messages, m);
    if (place.kind === "known") return null;
    if (place.kind === "adopt") {
      const patch: Partial<ChatMessage> = { id: m.id };
      if (m.role === "bot") Object.assign(patch, { text: m.text, sources: m.sources || [], notice: undefined });
      this.patch(place.key, patch);
      return null;
    }
    const msg = fromServer(m);
    this.set({ messages: [...this.state.messages, msg] });
    return msg;
  }
}
