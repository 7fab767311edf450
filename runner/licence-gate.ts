import type { LicenceServer } from "./licence-servers.ts";
import { firstAnswering, parseLicenceServers } from "./licence-servers.ts";

/** Whether a job may start now, and if not what it waits for (published as job.json `waiting_for`). */
export type Admission = { ok: true } | { ok: false; waitingFor: string };

/**
 * The licence check before an NX job starts: a job that would fail inside NX minutes later for want of
 * a licence server waits queued instead, and starts as soon as a server answers on its port.
 */
export interface LicenceGate {
  admit(jobType: string): Promise<Admission>;
  /** The runner-wide wait for the heartbeat; undefined while nothing waits. */
  waitingFor(): string | undefined;
  close(): void;
}

export interface LicenceGateOptions {
  /** SPLM_LICENSE_SERVER as the runner sees it; undefined: no check (see docs/runner.md). */
  setting: string | undefined;
  /** Job types that start NX and so need a licence. */
  jobTypes: readonly string[];
  /** How often a waiting runner knocks on the licence port again. */
  pollMs: number;
  /** How long one knock may take. */
  timeoutMs?: number;
  now: () => Date;
  log: (event: string, detail: string) => void;
  /** A server answers again: held jobs may be tried. */
  onAnswer: () => void;
}

export function createLicenceGate(options: LicenceGateOptions): LicenceGate {
  const timeoutMs = options.timeoutMs ?? 3000;
  const { servers, problems } = options.setting
    ? parseLicenceServers(options.setting)
    : { servers: [] as LicenceServer[], problems: [] };
  for (const problem of problems) options.log("licence setting", `SPLM_LICENSE_SERVER: ${problem}, ignored`);
  const names = servers.map((s) => s.text).join(", ");
  const state: { downSince?: string; poll?: NodeJS.Timeout; probing: boolean } = { probing: false };

  const waitText = (since: string) =>
    `licence server${servers.length > 1 ? "s" : ""} ${names} not answering since ${since}`;

  const stopPolling = () => {
    clearInterval(state.poll);
    state.poll = undefined;
  };

  const knock = async () => {
    if (state.probing || state.downSince === undefined) return;
    state.probing = true;
    try {
      const answering = await firstAnswering(servers, timeoutMs);
      if (!answering || state.downSince === undefined) return;
      options.log(
        "licence server answers",
        `${answering.text} answers again (down since ${state.downSince})`,
      );
      state.downSince = undefined;
      stopPolling();
      options.onAnswer();
    } finally {
      state.probing = false;
    }
  };

  return {
    async admit(jobType) {
      if (servers.length === 0 || !options.jobTypes.includes(jobType)) return { ok: true };
      if (await firstAnswering(servers, timeoutMs)) {
        state.downSince = undefined;
        stopPolling();
        return { ok: true };
      }
      state.downSince ??= options.now().toISOString();
      // Bounded interval: a licence server back at 3 am starts the held jobs within pollMs.
      state.poll ??= setInterval(() => void knock(), options.pollMs);
      return { ok: false, waitingFor: waitText(state.downSince) };
    },
    waitingFor: () => (state.downSince === undefined ? undefined : waitText(state.downSince)),
    close: stopPolling,
  };
}
