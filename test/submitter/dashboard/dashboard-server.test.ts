import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { JobCatalog } from "../../../submitter/catalog/job-catalog.ts";
import { openCatalog } from "../../../submitter/catalog/open-catalog.ts";
import { createServerContext } from "../../../submitter/context.ts";
import type { DashboardHandle } from "../../../submitter/dashboard/dashboard-server.ts";
import { serveDashboard } from "../../../submitter/dashboard/dashboard-server.ts";
import { submitJob } from "../../../submitter/operations/submit-job.ts";
import { collectErrors, hasChromium, launchChromium } from "../../helpers/chromium.ts";
import {
  acceptJob,
  finishJob,
  reportProgress,
  startJob,
  writeHeartbeat,
} from "../fixtures/runner-fixture.ts";
import { makeQueueWithStudy } from "../fixtures/study-fixture.ts";

// ATOMIZER_SCREENSHOTS=1 refreshes the one in docs/; otherwise it goes to the temp folder.
const SCREENSHOT = process.env.ATOMIZER_SCREENSHOTS
  ? new URL("../../../docs/images/dashboard.png", import.meta.url).pathname
  : join(tmpdir(), `atomizer-dashboard.png`);
let setup: Awaited<ReturnType<typeof makeQueueWithStudy>>;
let catalog: JobCatalog;
let server: DashboardHandle;
const ids: Record<string, string> = {};

beforeAll(async () => {
  setup = await makeQueueWithStudy();
  const ctx = await createServerContext({
    queueRoot: setup.queue.root,
    allow: [setup.base],
    withIndex: false,
  });
  try {
    for (const name of ["wfe sweep", "mount stiffness", "baffle <b>trim</b>", "licence wait"]) {
      const { job_id } = await submitJob(ctx, { study_dir: setup.study, name, project: "starspec" }, "atlas");
      ids[name] = job_id;
    }
  } finally {
    await ctx.close();
  }
  await acceptJob(setup.queue, ids["wfe sweep"] as string);
  await startJob(setup.queue, ids["wfe sweep"] as string);
  await reportProgress(
    setup.queue,
    ids["wfe sweep"] as string,
    {
      trials_complete: 12,
      trials_planned: 40,
      best_value: 0.0421,
    } as never,
  );
  await acceptJob(setup.queue, ids["mount stiffness"] as string);
  await finishJob(setup.queue, ids["mount stiffness"] as string, "completed", { log: "done\n" });
  await acceptJob(setup.queue, ids["licence wait"] as string);
  await writeHeartbeat(setup.queue, {
    running: [ids["wfe sweep"] as string],
    queued: [ids["licence wait"] as string],
    waiting_for: "licence server 28000@lic1 not answering",
  });
  catalog = await openCatalog({ kind: "watched", queueRoot: setup.queue.root });
  server = await serveDashboard({
    queueRoot: setup.queue.root,
    catalog,
    host: "127.0.0.1",
    port: 0,
    runnersEveryMs: 500,
  });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await catalog?.close();
  await rm(setup.base, { recursive: true, force: true });
});

test("the first HTML already lists every job with its state, trials, best value and the licence wait", async () => {
  const html = await (await fetch(server.url)).text();
  for (const id of Object.values(ids)) expect(html).toContain(id);
  expect(html).toContain('data-state="running"');
  expect(html).toContain('aria-valuenow="30"');
  expect(html).toContain("12 / 40");
  expect(html).toContain("0.0421");
  expect(html).toContain("waiting: licence server 28000@lic1 not answering");
  expect(html).not.toContain("<b>trim</b>");
});

test("read-only, and Host names other than this machine's are refused", async () => {
  expect((await fetch(server.url, { method: "POST" })).status).toBe(405);
  const { request } = await import("node:http");
  const status = await new Promise<number>((resolve, reject) => {
    const url = new URL(server.url);
    request({ host: url.hostname, port: url.port, path: "/", headers: { host: "evil.example" } }, (res) =>
      resolve(res.statusCode ?? 0),
    )
      .on("error", reject)
      .end();
  });
  expect(status).toBe(403);
});

test("with tokens: 401 without one, ?token= sets an HttpOnly cookie that then opens the page", async () => {
  const tokens = {
    agents: [],
    lookup: (token: string) =>
      token === "s3cret" ? { agent: "viewer", role: "observer" as const } : undefined,
  };
  const guarded = await serveDashboard({
    queueRoot: setup.queue.root,
    catalog,
    host: "127.0.0.1",
    port: 0,
    tokens,
  });
  try {
    expect((await fetch(guarded.url)).status).toBe(401);
    expect((await fetch(`${guarded.url}events`)).status).toBe(401);
    const login = await fetch(`${guarded.url}?token=s3cret`, { redirect: "manual" });
    expect(login.status).toBe(303);
    const cookie = login.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/HttpOnly; SameSite=Strict/);
    const page = await fetch(guarded.url, { headers: { cookie: cookie.split(";")[0] ?? "" } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(ids["wfe sweep"]);
    expect((await fetch(guarded.url, { headers: { authorization: "Bearer s3cret" } })).status).toBe(200);
    expect((await fetch(guarded.url, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
  } finally {
    await guarded.close();
  }
});

describe.runIf(hasChromium())("the dashboard in headless Chromium", () => {
  test("shows the jobs without console errors, and a state change on disk appears within seconds", async () => {
    const chromium = await launchChromium({ width: 1100, height: 620 });
    try {
      const page = await chromium.browser.newPage();
      const errors = collectErrors(page);
      await page.goto(server.url);
      await page
        .locator("#live")
        .filter({ hasText: /^live$/ })
        .waitFor();
      expect(await page.locator("#jobs tr").count()).toBe(4);
      const queued = `#jobs tr[data-job="${ids["baffle <b>trim</b>"]}"]`;
      expect(await page.getAttribute(queued, "data-state")).toBe("submitted");
      const started = Date.now();
      await acceptJob(setup.queue, ids["baffle <b>trim</b>"] as string);
      await startJob(setup.queue, ids["baffle <b>trim</b>"] as string);
      await page.waitForSelector(`${queued}[data-state="running"]`, { timeout: 5000 });
      const latency = Date.now() - started;
      console.log(`dashboard: state change on disk shown after ${latency} ms`);
      expect(latency).toBeLessThan(5000);
      expect(await page.textContent("#runners")).toContain("licence server 28000@lic1");
      expect(await page.textContent("body")).toContain("starspec");
      expect(errors).toEqual([]);
      await page.screenshot({ path: SCREENSHOT });
    } finally {
      await chromium.close();
    }
  }, 60_000);
});
