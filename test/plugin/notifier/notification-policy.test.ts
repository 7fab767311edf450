import { describe, expect, it } from "vitest";
import type { EndedJobFacts, EntrySummary } from "../../../plugin/notifier/notification-policy.ts";
import {
  acknowledgedHandoff,
  changedReads,
  newLedgerEntry,
  notificationFor,
  PRUNE_AFTER_MS,
  prunable,
  removedPrunable,
  resendDue,
  workAfterRestart,
} from "../../../plugin/notifier/notification-policy.ts";
import type { Handoff, LedgerEntry, Notified } from "../../../plugin/notifier/notifier-ledger.ts";

const NOW = Date.parse("2026-02-10T18:00:00Z");
const AT = new Date(NOW).toISOString();
const HOUR = 3600_000;
const ago = (ms: number) => new Date(NOW - ms).toISOString();

function facts(
  overrides: Partial<EndedJobFacts> & { notify?: { on_complete: boolean; on_fail: boolean } },
): EndedJobFacts {
  const { notify, ...rest } = overrides;
  return {
    jobId: "job-20260210-143022-starspec-m1-wfe-sweep",
    status: "completed",
    job: {
      channel: "#starspec-m1-wfe",
      finished_at: ago(5 * 60_000),
      notify: notify ?? { on_complete: true, on_fail: true },
    },
    ack: undefined,
    firstStart: false,
    channelMapped: true,
    now: NOW,
    staleMessageAfterMs: HOUR,
    ...rest,
  };
}

describe("notificationFor", () => {
  const off = { on_complete: false, on_fail: false };
  const oldJob = {
    channel: "#starspec-m1-wfe",
    finished_at: ago(3 * HOUR),
    notify: { on_complete: true, on_fail: true },
  };
  it.each<{ why: string; input: Partial<EndedJobFacts> & { notify?: typeof off }; expected: Notified }>([
    {
      why: "a job that just ended is sent",
      input: {},
      expected: { state: "sending", since: AT, attempts: 0 },
    },
    {
      why: "a failed job is sent too",
      input: { status: "failed" },
      expected: { state: "sending", since: AT, attempts: 0 },
    },
    {
      why: "archived before the notifier saw it",
      input: { ack: "archive" },
      expected: { state: "skipped", at: AT, reason: "preexisting" },
    },
    {
      why: "fetched before the very first start",
      input: { ack: "receipt", firstStart: true },
      expected: { state: "skipped", at: AT, reason: "preexisting" },
    },
    {
      why: "fetched, but the notifier ran all along: still told",
      input: { ack: "receipt" },
      expected: { state: "sending", since: AT, attempts: 0 },
    },
    {
      why: "on_complete off for a completed job",
      input: { notify: { on_complete: false, on_fail: true } },
      expected: { state: "skipped", at: AT, reason: "notify_off" },
    },
    {
      why: "on_fail off for a cancelled job",
      input: { status: "cancelled", notify: { on_complete: true, on_fail: false } },
      expected: { state: "skipped", at: AT, reason: "notify_off" },
    },
    {
      why: "on_fail off does not silence a completed job",
      input: { notify: { on_complete: true, on_fail: false } },
      expected: { state: "sending", since: AT, attempts: 0 },
    },
    {
      why: "history outranks the notify flag",
      input: { ack: "archive", notify: off },
      expected: { state: "skipped", at: AT, reason: "preexisting" },
    },
    {
      why: "ended long before the very first start",
      input: { firstStart: true, job: oldJob },
      expected: { state: "skipped", at: AT, reason: "stale" },
    },
    {
      why: "ended long ago but the notifier ran before: not stale",
      input: { job: oldJob },
      expected: { state: "sending", since: AT, attempts: 0 },
    },
    {
      why: "first start, ended within the stale window",
      input: { firstStart: true },
      expected: { state: "sending", since: AT, attempts: 0 },
    },
    {
      why: "first start, no finished_at: never stale",
      input: { firstStart: true, job: { channel: "#x-team", notify: { on_complete: true, on_fail: true } } },
      expected: { state: "sending", since: AT, attempts: 0 },
    },
    {
      why: "notify off outranks stale",
      input: { firstStart: true, job: { ...oldJob, notify: off } },
      expected: { state: "skipped", at: AT, reason: "notify_off" },
    },
    {
      why: "an unmapped channel",
      input: { channelMapped: false },
      expected: { state: "unmapped", at: AT, channel: "#starspec-m1-wfe" },
    },
    {
      why: "stale outranks an unmapped channel",
      input: { channelMapped: false, firstStart: true, job: oldJob },
      expected: { state: "skipped", at: AT, reason: "stale" },
    },
  ])("$why", ({ input, expected }) => {
    expect(notificationFor(facts(input))).toEqual(expected);
  });
});

describe("newLedgerEntry", () => {
  it.each([
    { ack: undefined, handoff: { state: "pending", since: AT, sent_at: [] } },
    { ack: "receipt" as const, handoff: { state: "acknowledged", at: AT, by: "receipt", sent_at: [] } },
    { ack: "archive" as const, handoff: { state: "acknowledged", at: AT, by: "archive", sent_at: [] } },
  ])("hand-off with acknowledgement $ack: $handoff.state", ({ ack, handoff }) => {
    const entry = newLedgerEntry(facts({ ack, status: "failed" }));
    expect(entry).toEqual({
      job_id: "job-20260210-143022-starspec-m1-wfe-sweep",
      status: "failed",
      channel: "#starspec-m1-wfe",
      finished_at: ago(5 * 60_000),
      recorded_at: AT,
      notified: notificationFor(facts({ ack, status: "failed" })),
      handoff,
    });
  });

  it("leaves finished_at out when job.json has none", () => {
    const entry = newLedgerEntry(
      facts({ job: { channel: "#x-team", notify: { on_complete: true, on_fail: true } } }),
    );
    expect(entry).not.toHaveProperty("finished_at");
  });
});

const pending = (sent: string[]): Handoff => ({ state: "pending", since: ago(2 * HOUR), sent_at: sent });
const acked = (at: string): Handoff => ({ state: "acknowledged", at, by: "receipt", sent_at: [] });
function entry(
  handoff: Handoff,
  notified: Notified = { state: "sent", at: AT, target: "t:1", attempts: 1 },
): LedgerEntry {
  return {
    job_id: `job-${handoff.state}`,
    status: "completed",
    channel: "#c",
    recorded_at: AT,
    notified,
    handoff,
  };
}

describe("acknowledgedHandoff", () => {
  it.each<{
    why: string;
    handoff: Handoff;
    ack: "receipt" | "archive" | undefined;
    expected: Handoff | undefined;
  }>([
    {
      why: "pending, fetched",
      handoff: pending([ago(HOUR)]),
      ack: "receipt",
      expected: { state: "acknowledged", at: AT, by: "receipt", sent_at: [ago(HOUR)] },
    },
    {
      why: "pending, archived",
      handoff: pending([]),
      ack: "archive",
      expected: { state: "acknowledged", at: AT, by: "archive", sent_at: [] },
    },
    { why: "pending, not taken yet", handoff: pending([]), ack: undefined, expected: undefined },
    { why: "already acknowledged", handoff: acked(ago(HOUR)), ack: "archive", expected: undefined },
  ])("$why", ({ handoff, ack, expected }) => {
    expect(acknowledgedHandoff(handoff, ack, NOW)).toEqual(expected);
  });
});

describe("resendDue", () => {
  const RESEND = 600_000;
  it.each([
    { why: "never handed over", handoff: pending([]), due: true },
    { why: "handed over just now", handoff: pending([ago(1_000)]), due: false },
    { why: "exactly resendAfter ago", handoff: pending([ago(RESEND)]), due: true },
    { why: "the last of several is recent", handoff: pending([ago(2 * RESEND), ago(60_000)]), due: false },
    { why: "acknowledged", handoff: acked(ago(2 * RESEND)), due: false },
  ])("$why: $due", ({ handoff, due }) => {
    expect(resendDue(entry(handoff), NOW, RESEND)).toBe(due);
  });
});

describe("prunable", () => {
  it.each([
    {
      why: "acknowledged long ago, gone from inbox",
      handoff: acked(ago(PRUNE_AFTER_MS + 1)),
      inInbox: false,
      prune: true,
    },
    {
      why: "acknowledged long ago, still in inbox",
      handoff: acked(ago(PRUNE_AFTER_MS + 1)),
      inInbox: true,
      prune: false,
    },
    { why: "acknowledged recently", handoff: acked(ago(PRUNE_AFTER_MS - 1)), inInbox: false, prune: false },
    { why: "still pending", handoff: pending([ago(PRUNE_AFTER_MS * 2)]), inInbox: false, prune: false },
  ])("$why: $prune", ({ handoff, inInbox, prune }) => {
    expect(prunable(entry(handoff), inInbox, NOW)).toBe(prune);
  });
});

describe("workAfterRestart", () => {
  it("re-hands every pending hand-off and re-sends every message caught mid-send", () => {
    const sending: Notified = { state: "sending", since: AT, attempts: 1 };
    const entries = [
      { ...entry(pending([ago(HOUR)])), job_id: "a" },
      { ...entry(pending([]), sending), job_id: "b" },
      { ...entry(acked(AT), sending), job_id: "c" },
      { ...entry(acked(AT)), job_id: "d" },
    ];
    expect(workAfterRestart(entries)).toEqual({ handoffs: ["a", "b"], resends: ["b", "c"] });
  });
});

describe("changedReads and removedPrunable", () => {
  const old = ago(PRUNE_AFTER_MS + HOUR);
  const known = new Map<string, EntrySummary>([
    ["pending-listed", { open: true }],
    ["acked-recent", { open: false, acknowledgedAt: ago(HOUR) }],
    ["acked-old-listed", { open: false, acknowledgedAt: old }],
    ["acked-old-gone", { open: false, acknowledgedAt: old }],
    ["acked-recent-gone", { open: false, acknowledgedAt: ago(HOUR) }],
    ["pending-gone", { open: true }],
  ]);
  // Every rescan reads the open entries and the live jobs after the changed rows.
  const always = new Set(["pending-listed", "pending-gone", "live-running"]);
  const changed = [
    "new-running",
    "new-unknown",
    "archived-unread",
    "live-running",
    "pending-listed",
    "acked-recent",
    "acked-old-listed",
  ];
  const read = changedReads(changed, known, always, NOW);

  it.each([
    { id: "new-running", read: true, why: "not in the ledger: may have ended" },
    { id: "new-unknown", read: true, why: "not in the ledger, whatever its row says" },
    { id: "archived-unread", read: true, why: "archived, changed, not in the ledger" },
    { id: "live-running", read: false, why: "live: read by every rescan anyway, not twice" },
    { id: "pending-listed", read: false, why: "hand-off pending: read by every rescan anyway" },
    { id: "acked-recent", read: false, why: "decided and acknowledged: done" },
    { id: "acked-old-listed", read: true, why: "old enough to prune once it left the runner" },
  ])("$id: read $read ($why)", ({ id, read: expected }) => {
    expect(read.includes(id)).toBe(expected);
  });

  it("reads nothing for rows that did not change", () => {
    expect(read.filter((id) => !changed.includes(id))).toEqual([]);
  });

  it("of the jobs removed from the catalog, prunes only old acknowledged entries", () => {
    expect(
      removedPrunable(["acked-old-gone", "acked-recent-gone", "pending-gone", "never-known"], known, NOW),
    ).toEqual(["acked-old-gone"]);
  });
});
