import { createServer, type Server } from "node:net";
import { expect, test } from "vitest";
import { createLicenceGate } from "../../runner/licence-gate.ts";
import { parseLicenceServers } from "../../runner/licence-servers.ts";

const listen = (port = 0): Promise<Server> =>
  new Promise((resolve) => {
    const server = createServer((socket) => socket.destroy());
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
const close = (server: Server) => new Promise((resolve) => server.close(resolve));

test("SPLM_LICENSE_SERVER: port@host lists with ; , or : between entries; a bare @host is Siemens' port", () => {
  expect(parseLicenceServers("28000@lic1;28001@lic2.corp").servers.map((s) => [s.host, s.port])).toEqual([
    ["lic1", 28000],
    ["lic2.corp", 28001],
  ]);
  expect(parseLicenceServers("1@a:2@b").servers.map((s) => s.port)).toEqual([1, 2]);
  expect(parseLicenceServers("@lic").servers[0]?.port).toBe(28000);
  expect(parseLicenceServers("lic1;99999@x").problems).toHaveLength(2);
});

test("the gate: up admits, down holds with waiting_for and polls, back up calls onAnswer", async () => {
  let server = await listen();
  const port = (server.address() as { port: number }).port;
  let answered = 0;
  const gate = createLicenceGate({
    setting: `${port}@127.0.0.1`,
    jobTypes: ["optimization"],
    pollMs: 50,
    timeoutMs: 500,
    now: () => new Date("2026-01-02T03:04:05.000Z"),
    log: () => {},
    onAnswer: () => answered++,
  });
  try {
    expect(await gate.admit("optimization")).toEqual({ ok: true });
    await close(server);
    const held = await gate.admit("optimization");
    expect(held).toEqual({
      ok: false,
      waitingFor: `licence server ${port}@127.0.0.1 not answering since 2026-01-02T03:04:05.000Z`,
    });
    expect(gate.waitingFor()).toBe(held.ok ? undefined : held.waitingFor);
    expect(await gate.admit("report")).toEqual({ ok: true });
    server = await listen(port);
    const deadline = Date.now() + 5000;
    while (answered === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(answered).toBe(1);
    expect(gate.waitingFor()).toBeUndefined();
  } finally {
    gate.close();
    await close(server);
  }
});

test("no setting: nothing is checked", async () => {
  const gate = createLicenceGate({
    setting: undefined,
    jobTypes: ["optimization"],
    pollMs: 50,
    now: () => new Date(),
    log: () => {},
    onAnswer: () => {},
  });
  expect(await gate.admit("optimization")).toEqual({ ok: true });
});
