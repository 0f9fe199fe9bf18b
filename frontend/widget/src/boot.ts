/** Start the widget from its <script> tag: settings, JS API, view, stored conversation. */
import { Api, ApiError } from "./api";
import { Chat } from "./chat";
import { pickLanguage, strings } from "./i18n";
import { Emitter, install } from "./jsapi";
import { Store } from "./store";
import type { WidgetConfig } from "./types";
import { View } from "./ui/view";

/** The widget's own <script> tag: the current script, else one loading …/widget.js with a key. */
export function findScript(doc: Document = document): HTMLScriptElement | null {
  const current = doc.currentScript as HTMLScriptElement | null;
  if (current && current.getAttribute("data-site-key")) return current;
  const tags = Array.from(doc.querySelectorAll<HTMLScriptElement>("script[data-site-key]"));
  return tags.find((s) => /\/widget\.js(?:[?#].*)?$/.test(s.src)) || null;
}

/** The API's base URL: `data-api-base`, else the origin the script was loaded from. */
export function apiBase(script: HTMLScriptElement, pageUrl = location.href): string {
  const override = script.getAttribute("data-api-base");
  if (override && /^https?:\/\//i.test(override)) return override.replace(/\/+$/, "");
  return new URL(script.src, pageUrl).origin;
}

export interface Widget {
  view: View;
  chat: Chat;
  store: Store;
}

const bodyReady = (): Promise<void> =>
  document.body
    ? Promise.resolve()
    : new Promise((r) => document.addEventListener("DOMContentLoaded", () => r(), { once: true }));

/** Boot the widget; resolves null when it must not show (no key, or the API refused it). */
export async function boot(script: HTMLScriptElement, win: Window = window): Promise<Widget | null> {
  const siteKey = (script.getAttribute("data-site-key") || "").trim();
  const w = win as Window & { deskpilot?: { version?: string } };
  if (w.deskpilot && w.deskpilot.version) {
    console.warn("[deskpilot] the widget is already on this page; ignoring the second copy");
    return null;
  }
  const emitter = new Emitter();
  const global = install(w, emitter);
  if (!siteKey) {
    console.warn("[deskpilot] the widget's <script> tag has no data-site-key");
    global.disable();
    return null;
  }
  const api = new Api(apiBase(script), siteKey);
  let config: WidgetConfig | null = null;
  try {
    config = await api.config();
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) {
      console.warn(`[deskpilot] the widget is disabled here: ${e.message} (${e.code})`);
      global.disable();
      return null;
    }
    console.warn(`[deskpilot] could not load the widget settings (${(e as Error).message}); using defaults`);
  }
  const lang = pickLanguage(config?.language, navigator.language);
  const t = strings(lang);
  const theme = config?.theme;
  const store = new Store();
  const chat = new Chat({ api, store, t, emit: (event, payload) => emitter.emit(event, payload) });
  const view = new View(
    store,
    {
      title: theme?.title || config?.product_name || t.title,
      color: theme?.color || "",
      position: theme?.position === "left" ? "left" : "right",
      avatarUrl: theme?.avatar_url || null,
      lang,
      t,
    },
    {
      send: (text) => void chat.send(text),
      retry: (key) => void chat.retry(key),
      rate: (key, rating, comment) => void chat.rate(key, rating, comment),
      handoff: () => void chat.handoff(),
      retryBanner: () => chat.retryBanner(),
      openChanged: (open) => emitter.emit(open ? "open" : "close"),
    },
  );
  if (theme?.greeting) store.add({ id: null, role: "bot", text: theme.greeting, sources: [], local: true });
  await bodyReady();
  view.mount(document.body);
  global.bind({
    open: () => view.open(),
    close: () => view.close(),
    toggle: () => view.toggle(),
    identify: (who) => chat.identify(who),
  });
  const restored = chat.restore();
  emitter.emit("ready", { language: lang, siteKey });
  await restored;
  return { view, chat, store };
}
