// Labels a job asks of a runner (`labels` in job.json, `--labels nx=2512` on a runner) and licence
// class names (`--licences nx=4`): one name rule for both. Kept apart from nats-layout.ts because
// job-schema.ts needs it and nats-layout.ts imports job-schema.ts.
import { z } from "zod";

/** A label or licence class name: what `--labels nx=2512` and `--licences nx=4` accept. */
export const LabelNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, "a label name is a lowercase letter then up to 31 of a-z 0-9 _ -");
export const LabelsSchema = z.record(LabelNameSchema, z.string().min(1).max(64));
export type Labels = z.infer<typeof LabelsSchema>;
