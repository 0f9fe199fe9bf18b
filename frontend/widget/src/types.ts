/** Shapes of the widget API (see README "Widget API") and of the widget's own state. */

export type Role = "visitor" | "bot" | "agent" | "system";
export type ConversationStatus = "bot" | "waiting_for_agent" | "agent" | "closed";
export type Language = "en" | "zh-CN";

export interface Theme {
  color: string;
  position: "right" | "left";
  title: string;
  greeting: string;
  avatar_url: string | null;
}

export interface WidgetConfig {
  site_key: string;
  product_name: string;
  language: "auto" | Language;
  theme: Theme;
}

export interface Source {
  number: number;
  chunk_id?: string | number | null;
  title: string;
  url: string | null;
  snippet: string;
  kind: "answer" | "cited" | "related";
}

/** A message as the server sends it (history, live events). */
export interface ServerMessage {
  id: number;
  role: Role;
  text: string;
  sources?: Source[];
  created_at?: string;
}

export interface Conversation {
  id: number;
  status: ConversationStatus;
}

export interface Started {
  conversation: Conversation;
  visitor_token: string;
  visitor_token_expires_at?: string;
}

/** A message in the widget: `id` is null until the server's id is known. */
export interface ChatMessage {
  key: string;
  id: number | null;
  role: Role;
  text: string;
  sources: Source[];
  /** bot: still streaming (a typing indicator while the text is empty) */
  pending?: boolean;
  /** visitor: why sending failed; `retry` says whether a Retry button is offered */
  failed?: string;
  retry?: boolean;
  /** a small line under the bubble (e.g. the answer was interrupted) */
  notice?: string;
  /** never sent to or received from the server (the greeting) */
  local?: boolean;
  rating?: "up" | "down";
  /** the comment box under a thumbs-down is open */
  commenting?: boolean;
  /** bumped on every change: the view re-renders a message when it changes */
  v: number;
}

export interface Identity {
  name?: string;
  email?: string;
}

/** The public payload of the `message` event of the JS API. */
export interface PublicMessage {
  id: number | null;
  role: Role;
  text: string;
  sources: Source[];
}
