import { describe, expect, it } from "vitest";
import { createKeyedSerial } from "../../protocol/index.ts";

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe("createKeyedSerial", () => {
  it("runs tasks of one key one at a time, in arrival order", async () => {
    const serial = createKeyedSerial();
    const events: string[] = [];
    const task = (name: string) => async () => {
      events.push(`${name} start`);
      await tick();
      events.push(`${name} end`);
      return name;
    };
    const results = await Promise.all([
      serial.run("a", task("1")),
      serial.run("a", task("2")),
      serial.run("a", task("3")),
    ]);
    expect(results).toEqual(["1", "2", "3"]);
    expect(events).toEqual(["1 start", "1 end", "2 start", "2 end", "3 start", "3 end"]);
  });

  it("runs tasks of different keys side by side", async () => {
    const serial = createKeyedSerial();
    const events: string[] = [];
    const task = (name: string) => async () => {
      events.push(`${name} start`);
      await tick();
      events.push(`${name} end`);
    };
    await Promise.all([serial.run("a", task("a")), serial.run("b", task("b"))]);
    expect(events.slice(0, 2).sort()).toEqual(["a start", "b start"]);
  });

  it("a failing task rejects its caller only; the next one still runs", async () => {
    const serial = createKeyedSerial();
    const failing = serial.run("a", async () => {
      throw new Error("boom");
    });
    const next = serial.run("a", async () => "after");
    await expect(failing).rejects.toThrow("boom");
    await expect(next).resolves.toBe("after");
  });

  it("idle() waits for every queued task, including ones queued meanwhile", async () => {
    const serial = createKeyedSerial();
    const done: string[] = [];
    void serial.run("a", async () => {
      await tick();
      done.push("a");
      void serial.run("b", async () => {
        await tick();
        done.push("b");
      });
    });
    void serial
      .run("c", async () => {
        throw new Error("ignored by idle");
      })
      .catch(() => undefined);
    await serial.idle();
    expect(done).toEqual(["a", "b"]);
    // Idle with nothing queued resolves at once.
    await expect(serial.idle()).resolves.toBeUndefined();
  });
});
