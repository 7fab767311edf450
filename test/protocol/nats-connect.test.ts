// openNats and natsSettingsProblem against a real nats-server: credentials only from a file or the
// environment, clear errors for a server that is not there, and setup that runs once.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsSettingsProblem, openNats } from "../../protocol/nats-connect.ts";
import type { RunningNats } from "../helpers/nats-server.ts";
import { natsServerPresent, startNatsServer } from "../helpers/nats-server.ts";
import { useTempDirs } from "./fixtures.ts";

const tempDir = useTempDirs("nats-connect");

describe("natsSettingsProblem", () => {
  it.each<[string, string, RegExp | undefined]>([
    ["a plain nats URL", "nats://queue.example:4222", undefined],
    ["a tls URL", "tls://queue.example:4222", undefined],
    [
      "user and password in the URL",
      "nats://alice:secret@queue.example:4222",
      /\.creds file .*ATOMIZER_NATS_TOKEN/,
    ],
    ["a token in the URL", "nats://s3cr3t-token@queue.example:4222", /carries a user, password or token/],
    ["an http URL", "http://queue.example:4222", /scheme http: use nats:\/\//],
    ["no URL at all", "queue.example", /is not a URL/],
  ])("%s", (_what, url, problem) => {
    const said = natsSettingsProblem({ url });
    if (problem === undefined) expect(said).toBeUndefined();
    else expect(said).toMatch(problem);
  });

  it("never echoes the secret it refuses", () => {
    expect(natsSettingsProblem({ url: "nats://alice:hunter2@queue.example:4222" })).not.toContain("hunter2");
  });
});

describe.runIf(natsServerPresent())("openNats on a real nats-server", () => {
  let server: RunningNats;
  let tokenServer: RunningNats;
  beforeAll(async () => {
    server = await startNatsServer();
    tokenServer = await startNatsServer({ args: ["--user", "runner", "--pass", "pa55word"] });
  });
  afterAll(async () => {
    await server?.stop();
    await tokenServer?.stop();
  });

  it("connects, sets up and binds the KV bucket and object store", async () => {
    const q = await openNats({ url: server.url }, {});
    try {
      expect(q.url).toBe(server.url);
      expect(await q.kv.status()).toMatchObject({ bucket: "atomizer" });
      expect((await q.objects.status()).bucket).toBe("atomizer-files");
    } finally {
      await q.close();
    }
    expect(q.nc.isClosed()).toBe(true);
  });

  it("a server that is not there: the error names the URL and what to check", async () => {
    const gone = await startNatsServer();
    const url = gone.url;
    await gone.stop();
    await expect(openNats({ url }, {})).rejects.toThrow(
      new RegExp(`cannot reach the NATS server at ${url}.*-js`),
    );
  });

  it("user and password come from the environment; a wrong one is refused naming the credentials", async () => {
    const q = await openNats(
      { url: tokenServer.url },
      { ATOMIZER_NATS_USER: "runner", ATOMIZER_NATS_PASSWORD: "pa55word" },
    );
    await q.close();
    await expect(
      openNats({ url: tokenServer.url }, { ATOMIZER_NATS_USER: "runner", ATOMIZER_NATS_PASSWORD: "wrong" }),
    ).rejects.toThrow(/refused the credentials/);
    await expect(openNats({ url: tokenServer.url }, { ATOMIZER_NATS_USER: "runner" })).rejects.toThrow(
      /go together/,
    );
  });

  it("a creds file that cannot be read is named, from --nats-creds or ATOMIZER_NATS_CREDS", async () => {
    const missing = join(await tempDir(), "absent.creds");
    await expect(openNats({ url: server.url, credsFile: missing }, {})).rejects.toThrow(
      `cannot read the NATS credentials file ${missing}`,
    );
    await expect(openNats({ url: server.url }, { ATOMIZER_NATS_CREDS: missing })).rejects.toThrow(missing);
    const garbage = join(await tempDir(), "garbage.creds");
    await writeFile(garbage, "not a creds file");
    await expect(openNats({ url: server.url, credsFile: garbage }, {})).rejects.toThrow();
  });

  it("a server restart: the connection comes back and the records are still there (file store)", async () => {
    const own = await startNatsServer();
    try {
      const q = await openNats({ url: own.url }, {});
      await q.kv.create("job.job-restart.claim", "x");
      await own.restart();
      const entry = await waitForValue(() => q.kv.get("job.job-restart.claim"));
      expect(entry?.string()).toBe("x");
      await q.close();
    } finally {
      await own.stop();
    }
  });

  it("close returns while the server is away", async () => {
    const own = await startNatsServer();
    const q = await openNats({ url: own.url }, {});
    await own.stop();
    const started = Date.now();
    await q.close();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(q.nc.isClosed()).toBe(true);
  });

  it("setup: false on a server never set up says to run the setup", async () => {
    const fresh = await startNatsServer();
    try {
      await expect(openNats({ url: fresh.url }, {}, { setup: false })).rejects.toThrow(/run the setup/);
    } finally {
      await fresh.stop();
    }
  });
});

/** Retries `read` until it resolves (the client is reconnecting meanwhile). */
async function waitForValue<T>(read: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await read();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
