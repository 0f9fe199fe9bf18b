/**
 * The conversation logic: restore from storage, start lazily, send and stream answers (with the
 * 409/401/404 restart and resend), live events (dedupe, unread), handoff, feedback, identify.
 */
import { Api, ApiError, describeError, isRetryable } from "./api";
import type { Strings } from "./i18n";
import type { EventName } from "./jsapi";
import { LiveStream } from "./live";
import { jsonData, type SSEEvent } from "./sse";
import * as storage from "./storage";
import { Store } from "./store";
import { readTurn } from "./turn";
import type { ChatMessage, ConversationStatus, Identity, PublicMessage, ServerMessage } from "./types";

const STATUSES = ["bot", "waiting_for_agent", "agent", "closed"];

export const publicMessage = (m: ChatMessage): PublicMessage => ({
  id: m.id,
  role: m.role,
  text: m.text,
  sources: m.sources,
});

export interface ChatDeps {
  api: Api;
  store: Store;
  t: Strings;
  emit: (event: EventName, payload?: unknown) => void;
  /** for tests: the live stream's wait between reconnects */
  delay?: (ms: number) => number;
}

export class Chat {
  conversationId: number | null = null;
  private live: LiveStream | null = null;
  private identity: Identity | null = null;
  private known: Identity = {};
  private inFlight = 0;
  private held: ServerMessage[] = [];
  private starting: Promise<number> | null = null;
  private retryAction: (() => void) | null = null;

  constructor(private readonly d: ChatDeps) {}

  private get siteKey(): string {
    return this.d.api.siteKey;
  }

  /** Load the stored conversation's history and follow its live events. */
  async restore(): Promise<void> {
    const saved = storage.load(this.siteKey);
    if (!saved) return;
    const { api, store } = this.d;
    api.token = saved.token;
    this.conversationId = saved.conversationId;
    try {
      const history = await api.messages(saved.conversationId);
      history.forEach((m) => store.merge(m));
      this.banner(null);
    } catch (e) {
      if (!isRetryable(e)) return this.forget(); // 401/403/404: start over when the visitor writes
      this.banner(e, () => this.restore()); // offline: the live stream also replays it when back
    }
    if (!this.live) this.follow();
  }

  /** Forget the stored conversation (a new one starts with the next message). */
  forget(): void {
    storage.clear(this.siteKey);
    this.d.api.token = null;
    this.conversationId = null;
    this.live?.stop();
    this.live = null;
  }

  async send(text: string): Promise<void> {
    text = text.trim();
    if (!text) return;
    const m = this.d.store.add({ id: null, role: "visitor", text, sources: [] });
    this.d.emit("message", publicMessage(m));
    await this.turn(m.key, text, 0);
  }

  async retry(key: string): Promise<void> {
    const m = this.d.store.find(key);
    if (!m || !m.failed) return;
    this.d.store.patch(key, { failed: undefined, retry: undefined });
    await this.turn(key, m.text, 0);
  }

  retryBanner(): void {
    const action = this.retryAction;
    this.banner(null);
    action?.();
  }

  async handoff(attempt = 0): Promise<void> {
    try {
      const id = await this.ensure();
      const conversation = await this.d.api.handoff(id);
      const now = this.d.store.get().status;
      // the live stream may already be ahead (an agent joined): never step back
      if (now === null || now === "bot") this.setStatus(conversation.status);
      this.banner(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && attempt === 0) {
        this.setStatus("closed");
        return this.handoff(1);
      }
      this.banner(e, () => this.handoff());
    }
  }

  /** A thumb (`comment` undefined; thumbs-down then offers a comment box) or the comment form. */
  async rate(key: string, rating: "up" | "down", comment?: string): Promise<void> {
    const { store, api, t } = this.d;
    const m = store.find(key);
    if (!m || m.id === null) return;
    const before = { rating: m.rating, commenting: m.commenting };
    const done = rating === "up" || comment !== undefined;
    store.patch(key, { rating, commenting: !done, notice: undefined });
    try {
      await api.feedback(m.id, rating, comment ? comment.trim().slice(0, 2000) || null : null);
      if (done) store.patch(key, { notice: t.thanks });
    } catch {
      store.patch(key, { ...before, notice: t.feedbackFailed });
    }
  }

  identify(who: Identity): void {
    const clean: Identity = {};
    if (who && typeof who.name === "string") clean.name = who.name.trim().slice(0, 200);
    if (who && typeof who.email === "string") clean.email = who.email.trim().slice(0, 320);
    if (!clean.name && !clean.email) return;
    // PUT replaces both fields: send what the page said so far, merged
    this.known = { ...this.known, ...clean };
    this.identity = this.known;
    void this.sendIdentity();
  }

  private async sendIdentity(): Promise<void> {
    const who = this.identity;
    if (!who || this.conversationId === null) return;
    try {
      await this.d.api.identify(this.conversationId, who);
      if (this.identity === who) this.identity = null;
    } catch (e) {
      console.warn("[deskpilot] identify() failed:", (e as Error).message);
    }
  }

  /** The open conversation's id, starting a new conversation when there is none (or closed). */
  private ensure(): Promise<number> {
    if (this.conversationId !== null && this.d.store.get().status !== "closed") {
      return Promise.resolve(this.conversationId);
    }
    if (!this.starting) this.starting = this.start().finally(() => (this.starting = null));
    return this.starting;
  }

  private async start(): Promise<number> {
    const { api } = this.d;
    const started = await api.start();
    const id = started.conversation.id;
    api.token = started.visitor_token;
    this.conversationId = id;
    storage.save(this.siteKey, { token: started.visitor_token, conversationId: id });
    this.setStatus(started.conversation.status);
    this.follow();
    void this.sendIdentity();
    return id;
  }

  private async turn(visitorKey: string, text: string, attempt: number): Promise<void> {
    const { store, api, t } = this.d;
    // the bot's bubble: at once (typing indicator) while the bot answers; with a person on the
    // conversation only if an answer comes at all
    let key: string | null = null;
    const bot = () => (key = key || store.add({ id: null, role: "bot", text: "", sources: [], pending: true }).key);
    const cur = () => (key ? store.find(key) : undefined);
    const status = store.get().status;
    if (status !== "agent" && status !== "waiting_for_agent") bot();
    let answering = false;
    this.inFlight++;
    try {
      const id = await this.ensure();
      const res = await api.send(id, text);
      answering = true;
      this.banner(null);
      const finished = await readTurn(res, {
        token: (s) => store.patch(bot(), { text: (cur()?.text || "") + s }),
        replace: (s) => store.patch(bot(), { text: s }),
        error: (e) => store.patch(bot(), { text: e.discard_partial ? "" : cur()?.text, notice: t.answerError }),
        sources: (sources) => store.patch(bot(), { sources }),
        done: (messageId) => {
          const m = cur();
          if (messageId === null && !m?.text) return key && store.remove(key); // nobody answers now
          store.patch(bot(), { id: messageId, pending: false });
          const done = cur();
          if (done) this.d.emit("message", publicMessage(done));
        },
      });
      if (!finished && key) this.interrupted(key);
    } catch (e) {
      if (answering) return key ? this.interrupted(key) : undefined;
      if (key) store.remove(key);
      const code = e instanceof ApiError ? e.status : -1;
      if (attempt === 0 && (code === 409 || code === 401 || code === 404)) {
        if (code === 409) this.setStatus("closed");
        else this.forget();
        return await this.turn(visitorKey, text, 1); // a new conversation, the message sent once more
      }
      store.patch(visitorKey, { failed: describeError(e, t), retry: isRetryable(e) });
    } finally {
      if (--this.inFlight === 0) this.held.splice(0).forEach((m) => this.receive(m));
    }
  }

  /** The answer stream broke: keep what came; the stored answer arrives on the live stream. */
  private interrupted(key: string): void {
    if (this.d.store.find(key)?.pending) this.d.store.patch(key, { pending: false, notice: this.d.t.interrupted });
  }

  private follow(): void {
    const id = this.conversationId;
    if (id === null) return;
    this.live?.stop();
    const live = new LiveStream((last, signal) => this.d.api.events(id, last, signal), {
      onEvent: (e) => this.onLive(id, e),
      onEnd: (reason) => {
        if (this.live !== live) return;
        this.live = null;
        if (reason === "closed") this.setStatus("closed");
        else if (this.d.store.get().status !== "closed") this.forget();
      },
      delay: this.d.delay,
    });
    this.live = live.start();
  }

  private onLive(id: number, e: SSEEvent): boolean {
    if (id !== this.conversationId) return true; // a stream of an earlier conversation
    if (e.event === "message") {
      const m = jsonData<ServerMessage>(e);
      if (!m || typeof m.id !== "number" || typeof m.text !== "string") return false;
      if (m.role === "bot" && this.inFlight) this.held.push(m); // dedupe with `done` first
      else this.receive(m);
    } else if (e.event === "status") {
      const s = jsonData<{ status: ConversationStatus }>(e);
      if (s && STATUSES.includes(s.status)) this.setStatus(s.status);
      return s?.status === "closed";
    }
    return false;
  }

  private receive(m: ServerMessage): void {
    const { store } = this.d;
    const added = store.merge(m);
    if (!added) return;
    if (added.role !== "visitor" && !store.get().open) store.set({ unread: store.get().unread + 1 });
    this.d.emit("message", publicMessage(added));
  }

  private setStatus(status: ConversationStatus): void {
    if (this.d.store.get().status !== status) this.d.store.set({ status });
  }

  private banner(e: unknown, retry?: () => void): void {
    this.retryAction = retry || null;
    this.d.store.set({
      banner: e === null ? null : { text: describeError(e, this.d.t), retry: !!retry && isRetryable(e) },
    });
  }
}
