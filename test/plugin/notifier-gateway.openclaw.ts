// The notifier inside a real OpenClaw gateway on loopback, offline: a job finishing in inbox/ makes
// the plugin's service post to a (fake) Telegram Bot API through OpenClaw's own telegram adapter and
// hand the job to the configured agent (system event queued, immediate wake -> heartbeat turn).
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initQueue } from "../../protocol/index.ts";
import { readLedger, waitFor } from "./notifier/engine-harness.ts";
import { CHANNEL, publishJob } from "./notifier/queue-fixture.ts";
import type { OpenClaw } from "./openclaw-cli.ts";
import { ensureOpenClaw, runOpenClaw } from "./openclaw-cli.ts";

const CHECKOUT = resolve(import.meta.dirname, "../..");
const JOB_ID = "job-20260210-143022-starspec-m1-wfe-sweep";
const CHAT_ID = "424242";

interface BotCall {
  method: string;
  body: string;
}

/** A Telegram Bot API stand-in on 127.0.0.1 that records every call. */
async function fakeBotApi(calls: BotCall[]): Promise<{ server: Server; url: string }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const method = (req.url ?? "").split("/").pop()?.split("?")[0] ?? "";
      calls.push({ method, body });
      const reply = (result: unknown) => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ ok: true, result }));
      };
      if (method === "getMe") {
        reply({ id: 123, is_bot: true, first_name: "queue", username: "queue_bot", can_join_groups: true });
      } else if (method === "sendMessage") {
        reply({
          message_id: 77,
          date: Math.floor(Date.now() / 1000),
          chat: { id: Number(CHAT_ID), type: "group" },
        });
      } else if (method === "getUpdates") {
        // Long-poll: answer empty after a while, as Telegram does.
        setTimeout(() => reply([]), 1_000);
      } else reply(true);
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

describe("the notifier in a real OpenClaw gateway", () => {
  let openclaw: OpenClaw;
  let root: string;
  let queue: string;
  let env: Record<string, string>;
  let gateway: ChildProcess | undefined;
  let output = "";
  const calls: BotCall[] = [];
  let bot: { server: Server; url: string };

  const log = () => stripVTControlCharacters(output);

  beforeAll(async () => {
    openclaw = await ensureOpenClaw();
    root = await mkdtemp(join(tmpdir(), "atomizer-notifier-gw-"));
    queue = join(root, "queue");
    await initQueue(queue);
    bot = await fakeBotApi(calls);
    env = {
      HOME: join(root, "home"),
      OPENCLAW_STATE_DIR: join(root, "state"),
      OPENCLAW_CONFIG_PATH: join(root, "openclaw.json"),
    };
    const install = await runOpenClaw(
      openclaw,
      ["plugins", "install", "-l", CHECKOUT, "--force", "--accept-capabilities"],
      env,
    );
    expect(install.exitCode, install.stderr).toBe(0);
    const port = await freePort();
    const config = JSON.parse(await readFile(env.OPENCLAW_CONFIG_PATH ?? "", "utf8")) as {
      plugins: { entries: Record<string, Record<string, unknown>> };
    } & Record<string, unknown>;
    config.gateway = {
      mode: "local",
      port,
      bind: "loopback",
      auth: { mode: "token", token: "notifier-test-token" },
    };
    config.plugins.entries["atomizer-job-queue"] = {
      enabled: true,
      config: {
        queueDir: queue,
        notifier: {
          postProcessor: { agentId: "optimizer" },
          channels: { [CHANNEL]: { channel: "telegram", to: CHAT_ID } },
        },
      },
    };
    config.channels = {
      telegram: { enabled: true, botToken: "123:abc", apiRoot: bot.url, dmPolicy: "open", allowFrom: ["*"] },
    };
    // No heartbeat schedule for the optimizer: the service's wake must start its turn by itself.
    config.agents = {
      ownership: "explicit",
      defaults: { systemAgent: { agentId: "manager" } },
      entries: {
        manager: { name: "Manager", workspace: join(root, "ws-manager") },
        optimizer: { name: "Optimizer", workspace: join(root, "ws-optimizer") },
      },
    };
    config.bindings = [{ agentId: "manager", match: { channel: "telegram", accountId: "default" } }];
    await writeFile(env.OPENCLAW_CONFIG_PATH ?? "", JSON.stringify(config, null, 2));

    gateway = spawn(
      process.execPath,
      [openclaw.entry, "gateway", "run", "--port", String(port), "--bind", "loopback", "--verbose"],
      {
        env: {
          PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`,
          NO_COLOR: "1",
          ...env,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    gateway.stdout?.on("data", (chunk) => {
      output += chunk;
    });
    gateway.stderr?.on("data", (chunk) => {
      output += chunk;
    });
    await waitFor(
      "the notifier to start in the gateway",
      () => log().includes("notifier: acting for"),
      120_000,
    );
  }, 600_000);

  afterAll(async () => {
    if (gateway && gateway.exitCode === null) {
      const exited = new Promise((done) => gateway?.once("exit", done));
      gateway.kill("SIGTERM");
      const timer = setTimeout(() => gateway?.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    }
    await new Promise((done) => bot?.server.close(done));
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("posts a finished job to its channel and hands it to the post-processing agent", async () => {
    const optimizerTurn = /session turn created:[^\n]*sessionKey=agent:optimizer:main[^\n]*trigger=heartbeat/;
    // Control: nothing woke the optimizer before the job ended.
    expect(log()).not.toMatch(optimizerTurn);
    await publishJob(queue, { jobId: JOB_ID, status: "completed", results: { "3_results/study.db": "db" } });

    await waitFor(
      "sendMessage at the fake Bot API",
      () => calls.some((call) => call.method === "sendMessage" && call.body.includes(JOB_ID)),
      60_000,
    );
    const sent = JSON.parse(calls.find((call) => call.method === "sendMessage")?.body ?? "{}") as {
      chat_id: string;
      text: string;
    };
    expect(String(sent.chat_id)).toBe(CHAT_ID);
    expect(sent.text).toContain("120 of 150 trials");

    const handoff = `[atomizer-job-queue hand-off] 1 job(s) to agent "optimizer" (session agent:optimizer:main): system event queued, immediate wake requested: ${JOB_ID}`;
    await waitFor("the hand-off log line", () => log().includes(handoff), 60_000);
    await waitFor(
      "the optimizer's heartbeat turn",
      () => optimizerTurn.test(log().slice(log().indexOf(handoff))),
      60_000,
    );

    await waitFor(
      "the ledger",
      async () => (await readLedger(queue)).jobs[JOB_ID]?.notified.state === "sent",
    );
    expect((await readLedger(queue)).jobs[JOB_ID]).toMatchObject({
      notified: { state: "sent", target: `telegram:${CHAT_ID}`, message_id: "77" },
      handoff: { state: "pending" },
    });
  });
});
