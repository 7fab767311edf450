import { z } from "zod";
import { IsoTimeSchema } from "../../protocol/job-schema.ts";

// Schemas of the run folder's files, for the runner's reads. The supervisor writes them and only
// imports their types: it starts for every job, and zod would add to its start-up.
const IdentitySchema = z.object({ pid: z.number().int().positive(), start: z.string().nullable() });

/** What the runner asks the supervisor to run. The environment travels through spawn, never to disk. */
export const RunSpecSchema = z.object({
  job_id: z.string().min(1),
  run_token: z.string().min(8),
  command: z.string().min(1),
  args: z.array(z.string()),
  windows_verbatim: z.boolean(),
  cwd: z.string().min(1),
  log_path: z.string().min(1),
  created_at: IsoTimeSchema,
});
export type RunSpec = z.infer<typeof RunSpecSchema>;

/** Who is supervising, and the script's process once it runs. */
export const RunStateSchema = z.object({
  job_id: z.string().min(1),
  run_token: z.string().min(8),
  supervisor: IdentitySchema,
  child: IdentitySchema.optional(),
  launched_at: IsoTimeSchema.optional(),
});
export type RunState = z.infer<typeof RunStateSchema>;

/** How the script ended, written once by the supervisor after the script and its leftovers are gone. */
export const RunOutcomeSchema = z.object({
  job_id: z.string().min(1),
  run_token: z.string().min(8),
  exit_code: z.number().int().nullable(),
  signal: z.string().nullable(),
  spawn_error: z.string().optional(),
  ended_at: IsoTimeSchema,
  /** Processes of the job still alive after the script exited, killed by the supervisor. */
  leftovers_killed: z.number().int().nonnegative().optional(),
});
export type RunOutcome = z.infer<typeof RunOutcomeSchema>;
