/** The visitor's state in localStorage under `deskpilot:v1:<site key>` (never throws). */

export interface Saved {
  token: string;
  conversationId: number;
}

export const storageKey = (siteKey: string): string => `deskpilot:v1:${siteKey}`;

function store(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // blocked (sandboxed iframe, privacy settings)
  }
}

export function load(siteKey: string): Saved | null {
  try {
    const raw = store()?.getItem(storageKey(siteKey));
    if (!raw) return null;
    const v = JSON.parse(raw);
    if (v && typeof v.token === "string" && v.token && Number.isInteger(v.conversationId)) {
      return { token: v.token, conversationId: v.conversationId };
    }
  } catch {
    /* corrupt: start over */
  }
  return null;
}

export function save(siteKey: string, saved: Saved): void {
  try {
    store()?.setItem(storageKey(siteKey), JSON.stringify(saved));
  } catch {
    /* full or blocked: the conversation still works for this page view */
  }
}

export function clear(siteKey: string): void {
  try {
    store()?.removeItem(storageKey(siteKey));
  } catch {
    /* ignore */
  }
}
