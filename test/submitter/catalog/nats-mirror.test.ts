// The mirror downloader against a real nats-server: every KV record a submitter or a runner's bridge
// writes becomes the folder-protocol files of the mirror queue, removals included, and a downloader
// started later (or restarted) brings the mirror to what KV holds, with nothing polled.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FetchReceipt, QueuePaths } from "../../../protocol/index.ts";
import { buildManifest, initQueue, JOB_FILE, pathExists } from "../../../protocol/index.ts";
import type { RunRecord } from "../../../protocol/nats-layout.ts";
import { jobKey } from "../../../protocol/nats-layout.ts";
import { uploadTree } from "../../../protocol/nats-objects.ts";
import { encodeRecord } from "../../../protocol/nats-records.ts";
import { MirrorDownloader } from "../../../submitter/catalog/nats-mirror.ts";
import {
  jsonText,
  publishToNats,
  recordFetchInNats,
  retireInNats,
} from "../../../submitter/catalog/nats-publish.ts";
import { natsServerPresent } from "../../helpers/nats-server.ts";
import { sampleJob } from "../../helpers/sample-job.ts";
import type { NatsHarness } from "../fixtures/nats-fixture.ts";
import { putHeartbeat, putRunRecord, startNatsHarness, until } from "../fixtures/nats-fixture.ts";

let nats: NatsHarness;
let base: string;

beforeAll(async () => {
  if (!natsServerPresent()) return;
  nats = await startNatsHarness();
  base = await mkdtemp(join(tmpdir(), "atomizer-nats-mirror-"));
});

afterAll(async () => {
  await nats?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

let mirrors = 0;
async function startMirror(): Promise<{ queue: QueuePaths; downloader: MirrorDownloader; log: string[] }> {
  const root = join(base, `mirror-${++mirrors}`, "queue");
  const queue = await initQueue(root);
  const log: string[] = [];
  const downloader = new MirrorDownloader(
    { nats: nats.q, queue, stagingDir: join(root, ".staging") },
    { log: (line) => log.push(line), retryMs: 200 },
  );
  await downloader.start();
  return { queue, downloader, log };
}

/** A staged submission as submit_job leaves it: the study's files, job.json with their manifest last. */
async function staged(
  jobId: string,
  files: Record<string, string>,
): Promise<{ dir: string; jobText: string }> {
  const dir = join(base, "staging", jobId);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, ...path.split("/").slice(0, -1)), { recursive: true });
    await writeFile(join(dir, ...path.split("/")), text);
  }
  const jobText = jsonText(sampleJob(jobId, { files: await buildManifest(dir) }));
  await writeFile(join(dir, JOB_FILE), jobText);
  return { dir, jobText };
}

const fileOf = (path: string) => readFile(path, "utf8").catch(() => undefined);

describe.runIf(natsServerPresent())("the NATS mirror downloader", () => {
  test("a submission, its run record, cancel, receipt and a heartbeat land as folder-protocol files; removals follow", async () => {
    const { queue, downloader, log } = await startMirror();
    const jobId = "job-20260210-143022-mirror-one";
    const { dir, jobText } = await staged(jobId, {
      "run_optimization.py": "print(1)\n",
      "1_setup/model.prt": "part\n",
    });
    expect(await publishToNats(nats.q, jobId, dir, new Date())).toBe("published");

    const outbox = join(queue.outbox, jobId);
    expect(await until("the submission in the mirror", () => fileOf(join(outbox, JOB_FILE)))).toBe(jobText);
    expect(await readFile(join(outbox, "1_setup", "model.prt"), "utf8")).toBe("part\n");
    expect(await readdir(join(queue.root, ".staging"))).toEqual([]);

    const running = jsonText({ ...JSON.parse(jobText), status: "running", seq: 2 });
    await putRunRecord(nats.q, jobId, running, { "stdout.log": "trial 1\n", "3_results/a.csv": "x\n1\n" });
    const inbox = join(queue.inbox, jobId);
    expect(await until("the run record in the mirror", () => fileOf(join(inbox, JOB_FILE)))).toBe(running);
    expect(await readFile(join(inbox, "stdout.log"), "utf8")).toBe("trial 1\n");
    expect(await readFile(join(inbox, "3_results", "a.csv"), "utf8")).toBe("x\n1\n");

    // The next record: stdout.log grew, a.csv is no longer listed, job.json moved on.
    const later = jsonText({ ...JSON.parse(jobText), status: "running", seq: 3 });
    await putRunRecord(nats.q, jobId, later, { "stdout.log": "trial 1\ntrial 2\n" });
    await until("the newer run record", async () =>
      (await fileOf(join(inbox, JOB_FILE))) === later ? true : undefined,
    );
    expect(await readFile(join(inbox, "stdout.log"), "utf8")).toBe("trial 1\ntrial 2\n");
    expect(await pathExists(join(inbox, "3_results", "a.csv"))).toBe(false);

    const cancel = jsonText({
      job_id: jobId,
      requested_at: new Date().toISOString(),
      requested_by: "manager",
    });
    await nats.q.kv.put(
      jobKey(jobId, "cancel"),
      new TextEncoder().encode(JSON.stringify({ text: cancel, written_at: new Date().toISOString() })),
    );
    expect(await until("the cancel request", () => fileOf(join(queue.cancelDir, `${jobId}.json`)))).toBe(
      cancel,
    );
    const receipt = {
      job_id: jobId,
      fetched_at: new Date().toISOString(),
      fetched_by: "study-builder",
      status: "completed",
    };
    await recordFetchInNats(nats.q, receipt as FetchReceipt, new Date());
    expect(await until("the fetch receipt", () => fileOf(join(queue.fetchedDir, `${jobId}.json`)))).toBe(
      jsonText(receipt),
    );
    await putHeartbeat(nats.q, "ws-two", '{"host": "ws-two"}\n');
    expect(await until("the heartbeat", () => fileOf(join(queue.runnersDir, "ws-two.json")))).toBe(
      '{"host": "ws-two"}\n',
    );

    await retireInNats(nats.q, jobId);
    await until("the submission removed", async () => ((await pathExists(outbox)) ? undefined : true));
    await until("the cancel removed", async () =>
      (await pathExists(join(queue.cancelDir, `${jobId}.json`))) ? undefined : true,
    );
    await nats.q.kv.delete(jobKey(jobId, "run"));
    await nats.q.kv.delete("runner.ws-two");
    await until("the runner folder removed", async () => ((await pathExists(inbox)) ? undefined : true));
    await until("the heartbeat removed", async () =>
      (await pathExists(join(queue.runnersDir, "ws-two.json"))) ? undefined : true,
    );
    await downloader.close();
    expect(log).toEqual([]);
  });

  test("a downloader started later mirrors what KV holds and removes what KV deleted meanwhile", async () => {
    const first = await startMirror();
    const kept = "job-20260210-143023-mirror-kept";
    const gone = "job-20260210-143024-mirror-gone";
    for (const jobId of [kept, gone]) {
      const { dir } = await staged(jobId, { "run_optimization.py": `print("${jobId}")\n` });
      expect(await publishToNats(nats.q, jobId, dir, new Date())).toBe("published");
      await until(`${jobId} mirrored`, () => fileOf(join(first.queue.outbox, jobId, JOB_FILE)));
    }
    await first.downloader.close();
    await retireInNats(nats.q, gone);
    await putHeartbeat(nats.q, "ws-late", '{"host": "ws-late"}\n');

    // The same mirror folder, a new downloader (a restarted server): the initial sync does it all.
    const again = new MirrorDownloader(
      { nats: nats.q, queue: first.queue, stagingDir: join(first.queue.root, ".staging") },
      { log: (line) => first.log.push(line) },
    );
    await again.sync();
    expect(await pathExists(join(first.queue.outbox, gone))).toBe(false);
    expect(await pathExists(join(first.queue.outbox, kept, JOB_FILE))).toBe(true);
    expect(await fileOf(join(first.queue.runnersDir, "ws-late.json"))).toBe('{"host": "ws-late"}\n');
    await again.close();
    expect(first.log).toEqual([]);
  });

  test("the mirror keeps following KV across a restart of the NATS server", async () => {
    const { queue, downloader, log } = await startMirror();
    await nats.server.restart();
    await until("the test's connection back", async () => {
      try {
        await putHeartbeat(nats.q, "ws-after", '{"host": "ws-after"}\n');
        return true;
      } catch {
        return undefined;
      }
    });
    expect(
      await until("the heartbeat after the restart", () => fileOf(join(queue.runnersDir, "ws-after.json"))),
    ).toBe('{"host": "ws-after"}\n');
    expect(log).toEqual([]);
    await downloader.close();
  });

  test("a run record that cannot be mirrored through an outage far longer than a few retries is mirrored once it can", async () => {
    const { queue, downloader, log } = await startMirror();
    const jobId = "job-20260210-143027-mirror-outage";
    const files = join(base, "outage-files");
    await mkdir(files, { recursive: true });
    await writeFile(join(files, "stdout.log"), "trial 1\n");
    // The record names objects that are not there (yet): every try fails until they are uploaded.
    const index = await uploadTree(nats.q, files, jobId, "run");
    for (const file of index) await nats.q.objects.delete(file.object);
    const { jobText } = await staged(jobId, { "run_optimization.py": "print(3)\n" });
    const done = jsonText({ ...JSON.parse(jobText), status: "completed", seq: 9 });
    const record: RunRecord = {
      host: "nx-workstation",
      attempt: 1,
      job: done,
      files: index,
      updated_at: new Date().toISOString(),
    };
    await nats.q.kv.put(jobKey(jobId, "run"), encodeRecord(record));
    await until("the first failed try", async () =>
      log.some((line) => line.includes(jobKey(jobId, "run"))) ? true : undefined,
    );

    // The server away for 3 s: 15 retry periods, three times what was once the retry limit.
    nats.server.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await nats.server.restart();
    await until("the test's connection back", async () => {
      try {
        return (await uploadTree(nats.q, files, jobId, "run")).length > 0 ? true : undefined;
      } catch {
        return undefined;
      }
    });
    const inbox = join(queue.inbox, jobId);
    expect(await until("the run record in the mirror", () => fileOf(join(inbox, JOB_FILE)))).toBe(done);
    expect(await readFile(join(inbox, "stdout.log"), "utf8")).toBe("trial 1\n");
    expect(log.filter((line) => line.includes("not mirrored:"))).toEqual([]);
    await downloader.close();
  });

  test("a record that is not the queue's is reported once and mirrors nothing; the others still do", async () => {
    const { queue, downloader, log } = await startMirror();
    const broken = "job-20260210-143025-mirror-broken";
    await nats.q.kv.put(jobKey(broken, "sub"), new TextEncoder().encode('{"job": 3}'));
    const fine = "job-20260210-143026-mirror-fine";
    const { dir } = await staged(fine, { "run_optimization.py": "print(2)\n" });
    await publishToNats(nats.q, fine, dir, new Date());
    await until("the good submission", () => fileOf(join(queue.outbox, fine, JOB_FILE)));
    await downloader.idle();
    expect(await pathExists(join(queue.outbox, broken))).toBe(false);
    expect(log).toHaveLength(1);
    expect(log[0]).toContain(`job.${broken}.sub`);
    expect(log[0]).toContain("does not match its schema");
    await downloader.close();
  });
});
