import { describe, expect, it, vi } from "vitest";
import { Emitter, install } from "../src/jsapi";

type Win = Window & { deskpilot?: any };

function fakeWindow(stub?: unknown): Win {
  return { deskpilot: stub } as unknown as Win;
}

describe("window.deskpilot", () => {
  it("queues calls until the widget is ready, then runs them in order", () => {
    const win = fakeWindow();
    const g = install(win, new Emitter());
    const calls: string[] = [];
    win.deskpilot.identify({ name: "Ada" });
    win.deskpilot.open();
    g.bind({
      open: () => calls.push("open"),
      close: () => calls.push("close"),
      toggle: () => calls.push("toggle"),
      identify: (w) => calls.push(`identify:${w.name}`),
    });
    win.deskpilot.toggle();
    expect(calls).toEqual(["identify:Ada", "open", "toggle"]);
  });

  it("replays a stub's queue, including event handlers", () => {
    const fn = vi.fn();
    const win = fakeWindow({ q: [["on", "message", fn], ["open"], ["nope"], "junk"] });
    const emitter = new Emitter();
    const g = install(win, emitter);
    const open = vi.fn();
    g.bind({ open, close: vi.fn(), toggle: vi.fn(), identify: vi.fn() });
    expect(open).toHaveBeenCalledTimes(1);
    emitter.emit("message", { text: "hi" });
    expect(fn).toHaveBeenCalledWith({ text: "hi" });
  });

  it("on() returns an unsubscribe; off() works; a throwing handler does not break others", () => {
    const emitter = new Emitter();
    const win = fakeWindow();
    install(win, emitter);
    const a = vi.fn(() => {
      throw new Error("page bug");
    });
    const b = vi.fn();
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const unsubscribe = win.deskpilot.on("open", a);
    win.deskpilot.on("open", b);
    emitter.emit("open");
    unsubscribe();
    win.deskpilot.off("open", b);
    emitter.emit("open");
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).toHaveBeenCalledTimes(1);
  });

  it("calls a late ready handler once the widget is ready", async () => {
    const emitter = new Emitter();
    emitter.emit("ready", { language: "en" });
    const fn = vi.fn();
    emitter.on("ready", fn);
    await Promise.resolve();
    expect(fn).toHaveBeenCalledWith({ language: "en" });
  });

  it("turns into no-ops when the widget is disabled", () => {
    const win = fakeWindow();
    const g = install(win, new Emitter());
    win.deskpilot.open();
    g.disable();
    expect(() => win.deskpilot.open()).not.toThrow();
    expect(win.deskpilot.version).toBe("1");
  });
});
