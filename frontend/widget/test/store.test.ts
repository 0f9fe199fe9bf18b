import { beforeEach, describe, expect, it, vi } from "vitest";
import { placeServerMessage, Store } from "../src/store";
import * as storage from "../src/storage";
import { pickLanguage, strings } from "../src/i18n";

describe("Store", () => {
  it("notifies subscribers and versions patched messages", () => {
    const s = new Store();
    const seen = vi.fn();
    s.subscribe(seen);
    const m = s.add({ id: null, role: "visitor", text: "hi", sources: [] });
    s.patch(m.key, { failed: "x" });
    expect(seen).toHaveBeenCalledTimes(2);
    expect(s.find(m.key)).toMatchObject({ failed: "x", v: 1 });
    s.remove(m.key);
    expect(s.get().messages).toEqual([]);
  });

  it("dedupes server messages by id", () => {
    const s = new Store();
    expect(s.merge({ id: 1, role: "agent", text: "Hello" })).not.toBeNull();
    expect(s.merge({ id: 1, role: "agent", text: "Hello" })).toBeNull();
    expect(s.get().messages).toHaveLength(1);
  });

  it("adopts the visitor's own message (same text, no id yet) instead of showing it twice", () => {
    const s = new Store();
    const mine = s.add({ id: null, role: "visitor", text: "card lost", sources: [] });
    expect(s.merge({ id: 5, role: "visitor", text: "card lost" })).toBeNull();
    expect(s.get().messages).toHaveLength(1);
    expect(s.find(mine.key)!.id).toBe(5);
    // from another tab: a different text is a new message
    expect(s.merge({ id: 6, role: "visitor", text: "other" })).not.toBeNull();
  });

  it("fills an interrupted bot answer with the stored one, never a streaming or local one", () => {
    const messages = [
      { key: "g", id: null, role: "bot" as const, text: "Hi!", sources: [], local: true, v: 0 },
      { key: "p", id: null, role: "bot" as const, text: "partial", sources: [], pending: true, v: 0 },
    ];
    expect(placeServerMessage(messages, { id: 9, role: "bot", text: "full" })).toEqual({ kind: "append" });
    const s = new Store();
    const cut = s.add({ id: null, role: "bot", text: "part", sources: [], notice: "interrupted" });
    s.merge({ id: 9, role: "bot", text: "full answer", sources: [{ number: 1, title: "T", url: null, snippet: "s", kind: "cited" }] });
    expect(s.find(cut.key)).toMatchObject({ id: 9, text: "full answer", notice: undefined });
    expect(s.find(cut.key)!.sources).toHaveLength(1);
  });
});

describe("storage", () => {
  beforeEach(() => localStorage.clear());

  it("saves under a namespaced key and loads it back", () => {
    storage.save("pk_1", { token: "tok", conversationId: 3 });
    expect(localStorage.getItem("deskpilot:v1:pk_1")).toBe('{"token":"tok","conversationId":3}');
    expect(storage.load("pk_1")).toEqual({ token: "tok", conversationId: 3 });
    expect(storage.load("pk_2")).toBeNull();
    storage.clear("pk_1");
    expect(storage.load("pk_1")).toBeNull();
  });

  it("treats corrupt or foreign values as nothing stored", () => {
    for (const raw of ["{", "null", '{"token":1}', '{"token":"t","conversationId":"3"}']) {
      localStorage.setItem("deskpilot:v1:k", raw);
      expect(storage.load("k")).toBeNull();
    }
  });

  it("never throws when storage is blocked", () => {
    const get = vi.spyOn(Storage.prototype, "getItem").mockImplementation(() => {
      throw new Error("SecurityError");
    });
    vi.spyOn(Storage.prototype, "setItem").mockImplementation(() => {
      throw new Error("QuotaExceededError");
    });
    expect(storage.load("k")).toBeNull();
    expect(() => storage.save("k", { token: "t", conversationId: 1 })).not.toThrow();
    expect(get).toHaveBeenCalled();
  });
});

describe("i18n", () => {
  it("picks the configured language, else the browser's", () => {
    expect(pickLanguage("en", "zh-CN")).toBe("en");
    expect(pickLanguage("zh-CN", "en-US")).toBe("zh-CN");
    expect(pickLanguage("auto", "zh-TW")).toBe("zh-CN");
    expect(pickLanguage("auto", "ZH")).toBe("zh-CN");
    expect(pickLanguage("auto", "fr-FR")).toBe("en");
    expect(pickLanguage(undefined, undefined)).toBe("en");
    expect(pickLanguage("de", "de-DE")).toBe("en");
  });

  it("has every string in both tables", () => {
    const en = strings("en");
    const zh = strings("zh-CN");
    expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
    expect(zh.talkToPerson).not.toBe(en.talkToPerson);
    expect(zh.unread(3)).toContain("3");
  });
});
