import { beforeEach, describe, expect, it, vi } from "vitest";
import { Api } from "../src/api";
import { Chat } from "../src/chat";
import { strings } from "../src/i18n";
import { Store } from "../src/store";
import * as storage from "../src/storage";
import { apiError, json, mockFetch, sse, sseResponse, until } from "./helpers";

const t = strings("en");
const BASE = "/api/v1/widget/conversations";
const started = (id: number, token = `tok${id}`) => () =>
  json({ conversation: { id, status: "bot" }, visitor_token: token, visitor_token_expires_at: "2099-01-01T00:00:00Z" }, 201);
const answer = (id: number, text = "Cards arrive in 5 days [1].") => () =>
  sseResponse([
    sse("meta", { intent: "card_arrival", confidence: 0.9, route: "fast_path", llm_available: true }),
    ...text.split(" ").map((w, i) => sse("token", { text: (i ? " " : "") + w })),
    sse("sources", { sources: [{ number: 1, chunk_id: 3, title: "Card delivery", url: null, snippet: "5 days", kind: "cited" }] }),
    sse("done", { message_id: id }),
  ]);
/** an event stream that stays open until aborted */
const quiet = (chunks: string[] = []) => ({ init }: { init: RequestInit }) =>
  sseResponse(chunks, { open: true, signal: init.signal as AbortSignal });

function setup(routes: Parameters<typeof mockFetch>[0]) {
  const m = mockFetch(routes);
  const store = new Store();
  const emit = vi.fn();
  const api = new Api("https://desk.example", "pk_test", m.fetch);
  const chat = new Chat({ api, store, t, emit, delay: () => 0 });
  return { ...m, store, emit, chat, api };
}

const texts = (store: Store) => store.get().messages.map((m) => `${m.role}:${m.text}`);

beforeEach(() => localStorage.clear());

describe("Chat", () => {
  it("starts a conversation lazily, stores it, and streams the answer with sources", async () => {
    const s = setup({
      [`POST ${BASE}`]: started(1),
      [`POST ${BASE}/1/messages`]: answer(11),
      [`GET ${BASE}/1/events`]: quiet(),
    });
    await s.chat.send("  where is my card?  ");
    expect(texts(s.store)).toEqual(["visitor:where is my card?", "bot:Cards arrive in 5 days [1]."]);
    const bot = s.store.get().messages[1];
    expect(bot).toMatchObject({ id: 11, pending: false });
    expect(bot.sources[0].title).toBe("Card delivery");
    expect(storage.load("pk_test")).toEqual({ token: "tok1", conversationId: 1 });
    const send = s.calls.find((c) => c.path === `${BASE}/1/messages`)!;
    expect(send.body).toEqual({ text: "where is my card?" });
    expect(send.headers["X-Deskpilot-Visitor"]).toBe("tok1");
    expect(s.emit).toHaveBeenCalledWith("message", expect.objectContaining({ role: "bot", id: 11 }));
  });

  it("sends a returning visitor's token when starting again", async () => {
    storage.save("pk_test", { token: "old", conversationId: 9 });
    const s = setup({
      [`GET ${BASE}/9/messages`]: () => apiError(404, "not_found", "no such conversation"),
      [`POST ${BASE}`]: started(2, "new"),
      [`POST ${BASE}/2/messages`]: answer(21),
      [`GET ${BASE}/2/events`]: quiet(),
    });
    await s.chat.restore();
    expect(storage.load("pk_test")).toBeNull(); // a 404 drops the stored state
    await s.chat.send("hi");
    expect(s.calls.find((c) => c.path === BASE)!.headers["X-Deskpilot-Visitor"]).toBeUndefined();
  });

  it("restores history on reload and follows live events", async () => {
    storage.save("pk_test", { token: "tok5", conversationId: 5 });
    const s = setup({
      [`GET ${BASE}/5/messages`]: () =>
        json([
          { id: 1, role: "visitor", text: "hello", sources: [] },
          { id: 2, role: "bot", text: "Hi there", sources: [] },
        ]),
      [`GET ${BASE}/5/events`]: quiet([
        sse("message", { id: 1, role: "visitor", text: "hello" }, 1),
        sse("message", { id: 2, role: "bot", text: "Hi there" }, 2),
        sse("message", { id: 3, role: "agent", text: "Hi, I'm Sam" }, 3),
      ]),
    });
    await s.chat.restore();
    await until(() => s.store.get().messages.length === 3);
    expect(texts(s.store)).toEqual(["visitor:hello", "bot:Hi there", "agent:Hi, I'm Sam"]);
    expect(s.store.get().unread).toBe(1);
    expect(s.calls.find((c) => c.path.endsWith("/events"))!.headers["X-Deskpilot-Visitor"]).toBe("tok5");
  });

  it("keeps the stored conversation when offline at load, with a Retry that restores it", async () => {
    storage.save("pk_test", { token: "tok5", conversationId: 5 });
    let online = false;
    const s = setup({
      [`GET ${BASE}/5/messages`]: () =>
        online ? json([{ id: 1, role: "visitor", text: "hello" }]) : Promise.reject(new TypeError("Failed to fetch")),
      [`GET ${BASE}/5/events`]: quiet(),
    });
    await s.chat.restore();
    expect(s.store.get().banner).toEqual({ text: t.offline, retry: true });
    expect(storage.load("pk_test")).not.toBeNull();
    online = true;
    s.chat.retryBanner();
    await until(() => s.store.get().messages.length === 1);
    expect(s.store.get().banner).toBeNull();
  });

  it("dedupes the bot's answer arriving on the live stream before `done`", async () => {
    let releaseAnswer: () => void = () => undefined;
    const s = setup({
      [`POST ${BASE}`]: started(1),
      [`GET ${BASE}/1/events`]: quiet([
        sse("message", { id: 10, role: "visitor", text: "q" }, 1),
        sse("message", { id: 11, role: "bot", text: "A." }, 2),
      ]),
      [`POST ${BASE}/1/messages`]: async () => {
        await new Promise<void>((r) => (releaseAnswer = r));
        return answer(11, "A.")();
      },
    });
    const sending = s.chat.send("q");
    await until(() => s.store.get().messages.some((m) => m.id === 10)); // the visitor's own, adopted
    releaseAnswer();
    await sending;
    expect(texts(s.store)).toEqual(["visitor:q", "bot:A."]);
  });

  it("starts a new conversation and resends once on 409", async () => {
    storage.save("pk_test", { token: "tok1", conversationId: 1 });
    const s = setup({
      [`GET ${BASE}/1/messages`]: () => json([]),
      [`GET ${BASE}/1/events`]: quiet(),
      [`POST ${BASE}/1/messages`]: () => apiError(409, "conversation_closed", "closed"),
      [`POST ${BASE}`]: started(2),
      [`POST ${BASE}/2/messages`]: answer(22, "Sure."),
      [`GET ${BASE}/2/events`]: quiet(),
    });
    await s.chat.restore();
    await s.chat.send("again");
    expect(texts(s.store)).toEqual(["visitor:again", "bot:Sure."]);
    expect(s.calls.filter((c) => c.method === "POST" && c.path === BASE)[0].headers["X-Deskpilot-Visitor"]).toBe("tok1");
    expect(storage.load("pk_test")).toEqual({ token: "tok2", conversationId: 2 });
  });

  it("shows a friendly message on 429 and the server's text on 413, with Retry only where it helps", async () => {
    const s = setup({
      [`POST ${BASE}`]: started(1),
      [`GET ${BASE}/1/events`]: quiet(),
      [`POST ${BASE}/1/messages`]: [
        () => apiError(429, "rate_limited", "too many", { "Retry-After": "3" }),
        () => apiError(413, "payload_too_large", "message over 4000 characters"),
      ],
    });
    await s.chat.send("a");
    await s.chat.send("b".repeat(10));
    const [a, b] = s.store.get().messages;
    expect(a.failed).toContain("You're sending messages too fast");
    expect(a.retry).toBe(true);
    expect(b).toMatchObject({ failed: "message over 4000 characters", retry: false });
    expect(s.store.get().messages.filter((m) => m.role === "bot")).toEqual([]);
  });

  it("goes offline on a network failure and retries the message", async () => {
    let online = false;
    const s = setup({
      [`POST ${BASE}`]: () => (online ? started(1)() : Promise.reject(new TypeError("Failed to fetch"))),
      [`POST ${BASE}/1/messages`]: answer(5, "Back."),
      [`GET ${BASE}/1/events`]: quiet(),
    });
    await s.chat.send("hello?");
    const [v] = s.store.get().messages;
    expect(v).toMatchObject({ failed: t.offline, retry: true });
    online = true;
    await s.chat.retry(v.key);
    expect(texts(s.store)).toEqual(["visitor:hello?", "bot:Back."]);
    expect(s.store.get().messages[0].failed).toBeUndefined();
  });

  it("handles replace, error with discard_partial, and a silent turn", async () => {
    const s = setup({
      [`POST ${BASE}`]: started(1),
      [`GET ${BASE}/1/events`]: quiet(),
      [`POST ${BASE}/1/messages`]: [
        () =>
          sseResponse([
            sse("token", { text: "partial garbage" }),
            sse("error", { code: "llm_failed", message: "upstream", discard_partial: true }),
            sse("token", { text: "Fallback" }),
            sse("replace", { text: "Fallback answer" }),
            sse("done", { message_id: 3 }),
          ]),
        () => sseResponse([sse("meta", { route: "silent" }), sse("done", { message_id: null })]),
      ],
    });
    await s.chat.send("q1");
    expect(s.store.get().messages[1]).toMatchObject({ text: "Fallback answer", notice: t.answerError, id: 3 });
    await s.chat.send("q2");
    expect(texts(s.store)).toEqual(["visitor:q1", "bot:Fallback answer", "visitor:q2"]);
  });

  it("shows no typing bubble while a person handles the conversation", async () => {
    let release: () => void = () => undefined;
    const s = setup({
      [`POST ${BASE}`]: started(1),
      [`GET ${BASE}/1/events`]: quiet(),
      [`POST ${BASE}/1/messages`]: async () => {
        await new Promise<void>((r) => (release = r));
        return sseResponse([sse("meta", { route: "silent" }), sse("done", { message_id: null })]);
      },
    });
    s.store.set({ status: "agent" });
    const sending = s.chat.send("are you there?");
    await until(() => s.calls.some((c) => c.path.endsWith("/messages")));
    expect(texts(s.store)).toEqual(["visitor:are you there?"]);
    release();
    await sending;
    expect(texts(s.store)).toEqual(["visitor:are you there?"]);
  });

  it("keeps a broken answer and fills it in from the live stream", async () => {
    let push: (s: string) => void = () => undefined;
    const s = setup({
      [`POST ${BASE}`]: started(1),
      [`GET ${BASE}/1/events`]: () =>
        new Response(new ReadableStream({ start: (c) => (push = (x) => c.enqueue(new TextEncoder().encode(x))) })),
      [`POST ${BASE}/1/messages`]: () => sseResponse([sse("token", { text: "Half" })]),
    });
    await s.chat.send("q");
    expect(s.store.get().messages[1]).toMatchObject({ text: "Half", pending: false, notice: t.interrupted });
    push(sse("message", { id: 7, role: "bot", text: "Half and whole" }, 4));
    await until(() => s.store.get().messages[1].id === 7);
    expect(texts(s.store)).toEqual(["visitor:q", "bot:Half and whole"]);
  });

  it("asks for a person and follows the status; identify waits for a conversation", async () => {
    const s = setup({
      [`POST ${BASE}`]: started(1),
      [`PUT ${BASE}/1/visitor`]: () => json({}),
      [`POST ${BASE}/1/handoff`]: () => json({ id: 1, status: "waiting_for_agent" }),
      [`GET ${BASE}/1/events`]: quiet([sse("status", { status: "agent", previous: "waiting_for_agent" }, 9)]),
    });
    s.chat.identify({ name: " Ada ", email: "ada@example.com", evil: 1 } as never);
    expect(s.calls).toHaveLength(0);
    await s.chat.handoff();
    await until(() => s.calls.some((c) => c.method === "PUT"));
    expect(s.calls.find((c) => c.method === "PUT")!.body).toEqual({ name: "Ada", email: "ada@example.com" });
    await until(() => s.store.get().status === "agent");
  });

  it("rates answers: thumbs-down opens a comment, which is sent as an update", async () => {
    const s = setup({
      [`POST ${BASE}`]: started(1),
      [`POST ${BASE}/1/messages`]: answer(11),
      [`GET ${BASE}/1/events`]: quiet(),
      [`POST /api/v1/widget/messages/11/feedback`]: () => json({ rating: "down" }),
    });
    await s.chat.send("q");
    const bot = s.store.get().messages[1];
    await s.chat.rate(bot.key, "down");
    expect(s.store.find(bot.key)).toMatchObject({ rating: "down", commenting: true });
    await s.chat.rate(bot.key, "down", "the fee is wrong");
    expect(s.store.find(bot.key)).toMatchObject({ rating: "down", commenting: false, notice: t.thanks });
    const bodies = s.calls.filter((c) => c.path.endsWith("/feedback")).map((c) => c.body);
    await s.chat.rate(bot.key, "down", "   "); // an empty comment closes the box too
    expect(s.store.find(bot.key)).toMatchObject({ commenting: false });
    expect(bodies.concat(s.calls.filter((c) => c.path.endsWith("/feedback")).slice(2).map((c) => c.body))).toEqual([
      { rating: "down", comment: null },
      { rating: "down", comment: "the fee is wrong" },
      { rating: "down", comment: null },
    ]);
  });

  it("starts a new conversation after the live stream says it closed", async () => {
    const s = setup({
      [`POST ${BASE}`]: [started(1), started(2)],
      [`POST ${BASE}/1/messages`]: answer(11),
      [`POST ${BASE}/2/messages`]: answer(21),
      [`GET ${BASE}/1/events`]: () => sseResponse([sse("status", { status: "closed", previous: "bot" }, 3)]),
      [`GET ${BASE}/2/events`]: quiet(),
    });
    await s.chat.send("one");
    await until(() => s.store.get().status === "closed");
    await s.chat.send("two");
    expect(s.chat.conversationId).toBe(2);
    expect(s.calls.filter((c) => c.path === `${BASE}/1/messages`)).toHaveLength(1);
  });
});
