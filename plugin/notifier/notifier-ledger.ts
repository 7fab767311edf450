import { rename } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import {
  describeZodError,
  errnoCode,
  IsoTimeSchema,
  isProtocolError,
  readJsonFile,
  TerminalStatusSchema,
  writeJsonAtomic,
} from "../../protocol/index.ts";

/** What happened to the job's one team-channel message. Each state carries its own timestamp. */
export const NotifiedSchema = z.discriminatedUnion("state", [
  /** Being sent; after a restart in this state the message is tried again. */
  z.object({ state: z.literal("sending"), since: IsoTimeSchema, attempts: z.number().int().nonnegative() }),
  z.object({
    state: z.literal("sent"),
    at: IsoTimeSchema,
    target: z.string(),
    attempts: z.number().int().positive(),
    message_id: z.string().optional(),
  }),
  z.object({
    state: z.literal("skipped"),
    at: IsoTimeSchema,
    /** notify_off: the job's notify flag said no; stale: ended long before the notifier first ran;
     * preexisting: already fetched or archived before the notifier first ran, or archived before it saw the job. */
    reason: z.enum(["notify_off", "stale", "preexisting"]),
  }),
  z.object({ state: z.literal("unmapped"), at: IsoTimeSchema, channel: z.string() }),
  z.object({
    state: z.literal("failed"),
    at: IsoTimeSchema,
    attempts: z.number().int().positive(),
    last_error: z.string(),
  }),
]);
export type Notified = z.infer<typeof NotifiedSchema>;

/** The hand-off to the post-processing agent. */
export const HandoffSchema = z.discriminatedUnion("state", [
  z.object({ state: z.literal("pending"), since: IsoTimeSchema, sent_at: z.array(IsoTimeSchema) }),
  z.object({
    state: z.literal("acknowledged"),
    at: IsoTimeSchema,
    /** receipt: .state/fetched/<id>.json; archive: archive/<id>-<stamp>/ exists. */
    by: z.enum(["receipt", "archive"]),
    sent_at: z.array(IsoTimeSchema),
  }),
]);
export type Handoff = z.infer<typeof HandoffSchema>;

export const LedgerEntrySchema = z.object({
  job_id: z.string().min(1),
  status: TerminalStatusSchema,
  channel: z.string(),
  finished_at: IsoTimeSchema.optional(),
  recorded_at: IsoTimeSchema,
  notified: NotifiedSchema,
  handoff: HandoffSchema,
});
export type LedgerEntry = z.infer<typeof LedgerEntrySchema>;

/**
 * The whole ledger as one object: the ledger.json of earlier versions (imported once into
 * ledger.sqlite by ledger-open.ts), and what readLedgerStore gives a person or a test.
 */
export const LedgerSchema = z.object({
  version: z.literal(1),
  created_at: IsoTimeSchema,
  jobs: z.record(z.string(), LedgerEntrySchema),
});
export type Ledger = z.infer<typeof LedgerSchema>;

/** The ledger file of earlier versions: imported once, then renamed aside (ledger.json.imported-<ms>). */
export const LEDGER_FILE = "ledger.json";

/** `<queue>/.state/notifier/`: the notifier's own bookkeeping, never synced. */
export function notifierStateDir(stateDir: string): string {
  return join(stateDir, "notifier");
}

export type LoadedLedger =
  | { kind: "found"; ledger: Ledger }
  | { kind: "absent" }
  /** Unreadable: moved aside (kept for a person to read) so the notifier can start afresh. */
  | { kind: "corrupt"; reason: string; movedTo: string };

/** Reads a ledger.json; a corrupt one is renamed aside, never silently overwritten. */
export async function loadLedger(dir: string, now: Date): Promise<LoadedLedger> {
  const path = join(dir, LEDGER_FILE);
  let reason: string;
  try {
    const parsed = LedgerSchema.safeParse(await readJsonFile(path));
    if (parsed.success) return { kind: "found", ledger: parsed.data };
    reason = describeZodError(parsed.error);
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "absent" };
    if (!isProtocolError(error)) throw error;
    reason = error.message;
  }
  const movedTo = join(dir, `${LEDGER_FILE}.corrupt-${now.getTime()}`);
  await rename(path, movedTo);
  return { kind: "corrupt", reason, movedTo };
}

export function emptyLedger(now: Date): Ledger {
  return { version: 1, created_at: now.toISOString(), jobs: {} };
}

/** Writes a ledger.json whole, atomically (the format of earlier versions; the import's tests write one). */
export async function saveLedger(dir: string, ledger: Ledger): Promise<void> {
  await writeJsonAtomic(join(dir, LEDGER_FILE), LedgerSchema.parse(ledger));
}
