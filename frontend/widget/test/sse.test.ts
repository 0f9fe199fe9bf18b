import { describe, expect, it } from "vitest";
import { jsonData, readSSE, SSEParser, type SSEEvent } from "../src/sse";
import { stream } from "./helpers";

function parse(chunks: string[]): SSEEvent[] {
  const out: SSEEvent[] = [];
  const p = new SSEParser((e) => out.push(e));
  chunks.forEach((c) => p.feed(c));
  return out;
}

describe("SSEParser", () => {
  it("parses events, ids, comments and multi-line data", () => {
    const events = parse([": connected\n\nid: 7\nevent: message\ndata: {\"a\":1}\n\ndata: one\ndata: two\n\n"]);
    expect(events).toEqual([
      { event: "message", data: '{"a":1}', id: "7" },
      { event: "message", data: "one\ntwo", id: "7" }, // the id is sticky, the type resets
    ]);
  });

  it("handles any chunking, CRLF split across chunks, CR-only lines and a BOM", () => {
    const text = "\ufeffevent: token\r\ndata: {\"text\":\"Hi\"}\r\n\r\nevent: done\rdata: x\r\r";
    const whole = parse([text]);
    expect(whole.map((e) => e.event)).toEqual(["token", "done"]);
    for (let i = 1; i < text.length; i++) {
      expect(parse([text.slice(0, i), text.slice(i)])).toEqual(whole);
    }
    expect(parse(text.split(""))).toEqual(whole);
  });

  it("ignores events without data and unknown fields; keeps one leading space only", () => {
    expect(parse(["event: ping\n\nretry: 5\nfoo: bar\ndata:  two spaces\n\n"])).toEqual([
      { event: "message", data: " two spaces", id: null },
    ]);
  });

  it("drops an unfinished event at the end", () => {
    expect(parse(["data: complete\n\ndata: half"])).toHaveLength(1);
  });
});

describe("readSSE", () => {
  it("decodes UTF-8 split inside a character (emoji, Chinese) across chunks", async () => {
    const bytes = new TextEncoder().encode('event: token\ndata: {"text":"你好 👋"}\n\n');
    const chunks = Array.from(bytes, (b) => new Uint8Array([b]));
    const got: string[] = [];
    await readSSE(stream(chunks), (e) => void got.push(jsonData<{ text: string }>(e)!.text));
    expect(got).toEqual(["你好 👋"]);
  });

  it("stops reading when the handler returns true", async () => {
    const got: string[] = [];
    await readSSE(stream(["data: 1\n\ndata: 2\n\n"], { open: true }), (e) => {
      got.push(e.data);
      return true;
    });
    expect(got).toEqual(["1"]);
  });

  it("rejects when the stream fails", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode("data: 1\n\n"));
        c.error(new TypeError("network"));
      },
    });
    await expect(readSSE(body, () => undefined)).rejects.toThrow("network");
  });

  it("jsonData returns null for non-JSON data", () => {
    expect(jsonData({ event: "x", data: "not json", id: null })).toBeNull();
  });
});
