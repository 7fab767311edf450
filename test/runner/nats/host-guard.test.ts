import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { NatsQueue } from "../../../protocol/nats-connect.ts";
import { openNats } from "../../../protocol/nats-connect.ts";
import { runnerKey } from "../../../protocol/nats-layout.ts";
import { readRecord } from "../../../protocol/nats-records.ts";
import { hostNameProblem, RunnerRecordSchema } from "../../../runner/nats/host-guard.ts";
import type { CliProcess } from "../../helpers/atomizer-jobs.ts";
import type { RunningNats } from "../../helpers/nats-server.ts";
import { natsServerPresent, startNatsServer } from "../../helpers/nats-server.ts";
import { waitFor } from "../helpers/make-job.ts";
import { startNatsRunner } from "./helpers/nats-runners.ts";

test.each([
  { host: "ws-1", ok: true },
  { host: "nx.host_2", ok: true },
  { host: "WS 1", ok: false },
  { host: "-ws", ok: false },
])("--host $host usable: $ok", ({ host, ok }) => {
  const problem = hostNameProblem(host);
  if (ok) expect(problem).toBeUndefined();
  else expect(problem).toContain("is not a usable runner name");
});

// Claims belong to a host name: a second runner under the same --host would take the first one's jobs
// as its own, so it refuses to start while the first is live.
describe.runIf(natsServerPresent())("one runner per --host on a NATS queue", () => {
  let nats: RunningNats;
  let q: NatsQueue;
  let base: string;
  const live: CliProcess[] = [];
  const host = "ws-twin";

  beforeAll(async () => {
    nats = await startNatsServer();
    q = await openNats({ url: nats.url });
    base = await mkdtemp(path.join(tmpdir(), "atomizer-nats-twin-"));
  });
  afterAll(async () => {
    for (const runner of live) {
      if (runner.child.exitCode === null && runner.child.signalCode === null) {
        runner.child.kill("SIGTERM");
        await runner.exited;
      }
    }
    await q?.close();
    await nats?.stop();
    if (base) await rm(base, { recursive: true, force: true, maxRetries: 5 });
  });

  const instanceOf = async () =>
    (await readRecord(q.kv, runnerKey(host), RunnerRecordSchema))?.value.instance?.id;

  test("a second runner with a live one's --host refuses to start; after the first stopped it starts", async () => {
    const first = startNatsRunner({ url: nats.url, base: path.join(base, "a"), host });
    live.push(first);
    const firstId = await waitFor(() => `the first heartbeat; log:\n${first.output()}`, instanceOf);
    const second = startNatsRunner({ url: nats.url, base: path.join(base, "b"), host });
    live.push(second);
    expect(await second.exited).not.toBe(0);
    expect(second.output()).toContain(`another runner is live as host ${host} on this NATS queue`);
    expect(second.output()).toContain("give this one another --host or stop the other");
    // The refused one wrote nothing there: the first runner's record stands.
    expect(await instanceOf()).toBe(firstId);

    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    const third = startNatsRunner({ url: nats.url, base: path.join(base, "b"), host });
    live.push(third);
    const thirdId = await waitFor(
      () => `the third runner's heartbeat; log:\n${third.output()}`,
      async () => {
        const id = await instanceOf();
        return id !== undefined && id !== firstId ? id : undefined;
      },
    );
    expect(thirdId).not.toBe(firstId);
    expect(third.child.exitCode).toBeNull();
  });
});
