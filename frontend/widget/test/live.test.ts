import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../src/api";
import { backoff, LiveStream, type Opener } from "../src/live";
import { sse, sseResponse, until } from "./helpers";

describe("LiveStream", () => {
  it("reconnects after the stream ends, resuming with the last event id", async () => {
    const seen: (string | null)[] = [];
    const delays: number[] = [];
    const responses = [
      () => sseResponse([sse("message", { id: 1 }, 10), sse("message", { id: 2 }, 11)]),
      () => Promise.reject(new ApiError(0, "network", "down")),
      () => sseResponse([": ping\n\n", sse("status", { status: "closed" }, 12)]),
    ];
    const open: Opener = vi.fn(async (last) => {
      seen.push(last);
      return responses.shift()!();
    });
    const events: string[] = [];
    const onEnd = vi.fn();
    new LiveStream(open, {
      onEvent: (e) => {
        events.push(`${e.id}:${e.event}`);
        return e.event === "status";
      },
      onEnd,
      delay: (ms) => (delays.push(ms), 0),
    }).start();
    await until(() => onEnd.mock.calls.length === 1);
    expect(seen).toEqual([null, "11", "11"]);
    expect(events).toEqual(["10:message", "11:message", "12:status"]);
    expect(onEnd).toHaveBeenCalledWith("closed");
    // after a stream that delivered events the backoff starts over; failures grow it
    expect(delays[0]).toBeLessThan(delays[1]);
  });

  it("stops on 204 (closed) and on 404 (refused)", async () => {
    const closed = vi.fn();
    new LiveStream(async () => new Response(null, { status: 204 }), { onEvent: () => false, onEnd: closed }).start();
    await until(() => closed.mock.calls.length === 1);
    expect(closed).toHaveBeenCalledWith("closed");
    const refused = vi.fn();
    const open = vi.fn(async () => {
      throw new ApiError(404, "not_found", "no");
    });
    new LiveStream(open, { onEvent: () => false, onEnd: refused }).start();
    await until(() => refused.mock.calls.length === 1);
    expect(refused).toHaveBeenCalledWith("refused");
    expect(open).toHaveBeenCalledTimes(1);
  });

  it("stop() aborts an open stream and never reconnects", async () => {
    let signal: AbortSignal | null = null;
    const open = vi.fn(async (_: string | null, s: AbortSignal) => {
      signal = s;
      return sseResponse([sse("message", { id: 1 }, 1)], { open: true, signal: s });
    });
    const onEnd = vi.fn();
    const got = vi.fn();
    const live = new LiveStream(open, { onEvent: got, onEnd, delay: () => 0 }).start();
    await until(() => got.mock.calls.length === 1);
    live.stop();
    expect(signal!.aborted).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(open).toHaveBeenCalledTimes(1);
    expect(onEnd).not.toHaveBeenCalled();
    expect(live.running).toBe(false);
  });

  it("backs off up to 30 s with jitter", () => {
    expect(backoff(0, () => 0)).toBe(1000);
    expect(backoff(3, () => 0)).toBe(8000);
    expect(backoff(50, () => 0)).toBe(30000);
    expect(backoff(0, () => 1)).toBe(1200);
  });
});
