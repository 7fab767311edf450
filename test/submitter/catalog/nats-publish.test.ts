// Publishing a submission to NATS against a real nats-server: of two submitters racing for one job id
// exactly one wins, and the loser's upload neither overwrites the winner's objects nor stays behind.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildManifest, JOB_FILE } from "../../../protocol/index.ts";
import type { NatsQueue } from "../../../protocol/nats-connect.ts";
import { openNats } from "../../../protocol/nats-connect.ts";
import { jobKey, SubmissionRecordSchema } from "../../../protocol/nats-layout.ts";
import { downloadTree } from "../../../protocol/nats-objects.ts";
import { readRecord } from "../../../protocol/nats-records.ts";
import { jsonText, publishToNats } from "../../../submitter/catalog/nats-publish.ts";
import { natsServerPresent } from "../../helpers/nats-server.ts";
import { sampleJob } from "../../helpers/sample-job.ts";
import type { NatsHarness } from "../fixtures/nats-fixture.ts";
import { startNatsHarness } from "../fixtures/nats-fixture.ts";

let nats: NatsHarness;
let other: NatsQueue;
let base: string;

beforeAll(async () => {
  if (!natsServerPresent()) return;
  nats = await startNatsHarness();
  // the second submitter, as on another machine: its own connection
  other = await openNats({ url: nats.server.url }, {}, { name: "submitter-b" });
  base = await mkdtemp(join(tmpdir(), "atomizer-nats-publish-"));
});

afterAll(async () => {
  await other?.close();
  await nats?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

/** A staged submission whose files (same paths for both submitters) say which submitter wrote them. */
async function staged(jobId: string, who: string): Promise<string> {
  const dir = join(base, who, jobId);
  const files: Record<string, string> = {
    "run_optimization.py": `print(${JSON.stringify(who)})\n`,
    "1_setup/model.prt": `${who}\n`.repeat(20_000),
    "1_setup/params.csv": `x,${who}\n`,
  };
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, ...path.split("/").slice(0, -1)), { recursive: true });
    await writeFile(join(dir, ...path.split("/")), text);
  }
  await writeFile(join(dir, JOB_FILE), jsonText(sampleJob(jobId, { files: await buildManifest(dir) })));
  return dir;
}

describe.runIf(natsServerPresent())("publishToNats", () => {
  test("two submitters publish one id at once: one wins, its objects all verify, the loser's are gone (10 races)", async () => {
    for (let race = 0; race < 10; race++) {
      const jobId = `job-20260210-143022-race-${race}`;
      const dirA = await staged(jobId, "alpha");
      const dirB = await staged(jobId, "bravo");
      const outcomes = await Promise.all([
        publishToNats(nats.q, jobId, dirA, new Date()),
        publishToNats(other, jobId, dirB, new Date()),
      ]);
      expect([...outcomes].sort()).toEqual(["published", "taken"]);
      const winnerDir = outcomes[0] === "published" ? dirA : dirB;

      const record = await readRecord(nats.q.kv, jobKey(jobId, "sub"), SubmissionRecordSchema);
      if (record === undefined) throw new Error(`no ${jobKey(jobId, "sub")} after a published submit`);
      expect(record.value.job).toBe(await readFile(join(winnerDir, JOB_FILE), "utf8"));
      const into = join(base, "download", jobId);
      await mkdir(into, { recursive: true });
      await downloadTree(nats.q, record.value.files, into);
      for (const file of record.value.files) {
        const path = join(...file.path.split("/"));
        expect(await readFile(join(into, path), "utf8")).toBe(await readFile(join(winnerDir, path), "utf8"));
      }

      const named = new Set(record.value.files.map((file) => file.object));
      const stored = (await nats.q.objects.list())
        .filter((info) => !info.deleted && info.name.startsWith(`${jobId}/`))
        .map((info) => info.name);
      expect(stored.sort()).toEqual([...named].sort());
    }
  });

  test("a study whose submission record would exceed the server's max_payload is refused before any upload", async () => {
    const jobId = "job-20260210-143022-many-small-files";
    const dir = join(base, "many", jobId);
    await mkdir(join(dir, "1_setup"), { recursive: true });
    // About 280 bytes of record per file: 5,000 of them are over the default 1 MB max_payload.
    for (let n = 0; n < 5000; n++) await writeFile(join(dir, "1_setup", `part-${n}.csv`), `${n}\n`);
    await writeFile(join(dir, JOB_FILE), jsonText(sampleJob(jobId, { files: await buildManifest(dir) })));
    const before = (await nats.q.objects.list()).filter((info) => !info.deleted).length;
    await expect(publishToNats(nats.q, jobId, dir, new Date())).rejects.toThrow(
      /5000 files need a \d+ KiB submission record, over the NATS server's max_payload of 1024 KiB: pack the many small files/,
    );
    expect((await nats.q.objects.list()).filter((info) => !info.deleted).length).toBe(before);
    expect(await nats.q.kv.get(jobKey(jobId, "sub"))).toBeNull();
  });
});
