// What an OpenClaw MCP probe lists, and which job tools each role should see there.
const READ = ["job_status", "list_jobs", "runner_status", "tail_log", "wait_for_job"];
export const ROLE_TOOLS: Record<string, string[]> = {
  observer: READ,
  submitter: [...READ, "cancel_job", "submit_job"],
  processor: [...READ, "archive_job", "fetch_results"],
  admin: [...READ, "archive_job", "cancel_job", "fetch_results", "submit_job"],
};

export interface ProbeOutput {
  servers: Record<string, { tools: number }>;
  tools: string[];
  diagnostics: unknown[];
}

/** The job tools a probe lists for one server, without the resources_* helpers OpenClaw adds. */
export function jobTools(probe: ProbeOutput, server: string): string[] {
  return probe.tools
    .filter((name) => name.startsWith(`${server}__`))
    .map((name) => name.slice(server.length + 2))
    .filter((name) => !name.startsWith("resources_"))
    .sort();
}
