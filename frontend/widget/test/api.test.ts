import { describe, expect, it } from "vitest";
import { Api, ApiError, describeError, isRetryable, parseRetryAfter, toApiError } from "../src/api";
import { strings } from "../src/i18n";
import { apiError, json, mockFetch } from "./helpers";

const t = strings("en");

describe("error mapping", () => {
  it("reads the JSON error body", async () => {
    const e = await toApiError(apiError(409, "conversation_closed", "closed; start a new one"));
    expect(e).toMatchObject({ status: 409, code: "conversation_closed", message: "closed; start a new one" });
  });

  it("falls back to the status for non-JSON bodies and reads FastAPI's detail", async () => {
    const e = await toApiError(new Response("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    expect(e).toMatchObject({ status: 502, code: "http_502", message: "Bad Gateway" });
    expect((await toApiError(json({ detail: "Not Found" }, 404))).message).toBe("Not Found");
  });

  it("parses Retry-After as seconds or a date", async () => {
    expect(parseRetryAfter("12")).toBe(12);
    expect(parseRetryAfter(new Date(Date.now() + 30_000).toUTCString())).toBeGreaterThanOrEqual(29);
    expect(parseRetryAfter("soon")).toBeNull();
    const e = await toApiError(apiError(429, "rate_limited", "slow down", { "Retry-After": "7" }));
    expect(e.retryAfter).toBe(7);
  });

  it("tells the visitor something useful", () => {
    expect(describeError(new ApiError(429, "rate_limited", "x"), t)).toBe(t.tooFast);
    expect(describeError(new ApiError(429, "rate_limited", "x", 5), t)).toContain("5 s");
    expect(describeError(new ApiError(413, "payload_too_large", "message over 4000 characters"), t)).toBe(
      "message over 4000 characters",
    );
    expect(describeError(new ApiError(422, "invalid_input", "text must not be empty"), t)).toBe("text must not be empty");
    expect(describeError(new ApiError(0, "network", "Failed to fetch"), t)).toBe(t.offline);
    expect(describeError(new ApiError(403, "site_key_revoked", "internal detail"), t)).toBe(t.unavailable);
    expect(describeError(new ApiError(500, "internal", "Traceback…"), t)).toBe(t.error);
    expect(describeError(new Error("?"), t)).toBe(t.error);
  });

  it("knows which failures are worth retrying", () => {
    expect(isRetryable(new ApiError(0, "network", ""))).toBe(true);
    expect(isRetryable(new ApiError(429, "", ""))).toBe(true);
    expect(isRetryable(new ApiError(503, "", ""))).toBe(true);
    expect(isRetryable(new ApiError(422, "", ""))).toBe(false);
    expect(isRetryable(new ApiError(404, "", ""))).toBe(false);
  });
});

describe("Api", () => {
  it("sends JSON, the visitor token and no cookies", async () => {
    const m = mockFetch({ "POST /api/v1/widget/conversations/4/handoff": () => json({ id: 4, status: "waiting_for_agent" }) });
    const api = new Api("https://desk.example", "pk_1", m.fetch);
    api.token = "tok";
    expect(await api.handoff(4)).toEqual({ id: 4, status: "waiting_for_agent" });
    const init = m.fetch.mock.calls[0][1]!;
    expect(init.credentials).toBe("omit");
    expect(m.calls[0].headers["X-Deskpilot-Visitor"]).toBe("tok");
  });

  it("gets the config without custom headers (no preflight) and encodes the key", async () => {
    const m = mockFetch({ "GET /api/v1/widget/config": () => json({ site_key: "pk a" }) });
    await new Api("https://desk.example", "pk a&b", m.fetch).config();
    expect(m.calls[0].url.search).toBe("?site_key=pk%20a%26b");
    expect(Object.keys(m.calls[0].headers)).toEqual([]);
  });

  it("maps network failures to status 0 and keeps aborts as aborts", async () => {
    const api = new Api("https://desk.example", "pk", async () => {
      throw new TypeError("Failed to fetch");
    });
    await expect(api.start()).rejects.toMatchObject({ status: 0, code: "network" });
    const aborting = new Api("https://desk.example", "pk", async () => {
      throw new DOMException("aborted", "AbortError");
    });
    await expect(aborting.start()).rejects.toMatchObject({ name: "AbortError" });
  });

  it("sends Last-Event-ID when resuming the event stream, and the feedback and visitor bodies", async () => {
    const m = mockFetch({
      "GET /api/v1/widget/conversations/2/events": () => new Response(null, { status: 204 }),
      "POST /api/v1/widget/messages/8/feedback": () => json({}),
      "PUT /api/v1/widget/conversations/2/visitor": () => json({}),
    });
    const api = new Api("https://desk.example", "pk", m.fetch);
    await api.events(2, null);
    await api.events(2, "41");
    await api.feedback(8, "down", "wrong fee");
    await api.identify(2, { email: "a@b.example" });
    expect(m.calls[0].headers["Last-Event-ID"]).toBeUndefined();
    expect(m.calls[1].headers["Last-Event-ID"]).toBe("41");
    expect(m.calls[2].body).toEqual({ rating: "down", comment: "wrong fee" });
    expect(m.calls[3].body).toEqual({ name: null, email: "a@b.example" });
  });
});
