import { createHash, timingSafeEqual } from "node:crypto";
import { realpath } from "node:fs/promises";
import { z } from "zod";
import { openRegularFile, parseJsonBytes, readBoundedBytes } from "../../protocol/index.ts";
import type { Identity } from "./roles.ts";
import { AgentNameSchema, RoleSchema } from "./roles.ts";

const EnvReference = z.object({ token_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) }).strict();

const TokenEntrySchema = z
  .object({
    agent: AgentNameSchema,
    role: RoleSchema,
    token: z.union([z.string(), EnvReference]).optional(),
    token_env: z.string().optional(),
  })
  .strict();

const AuthConfigSchema = z.object({ tokens: z.array(TokenEntrySchema).min(1) }).strict();

export interface TokenTable {
  /** The caller's identity for a bearer token, or undefined. Constant-time per entry. */
  lookup: (token: string) => Identity | undefined;
  agents: readonly Identity[];
}

/** A token table is a few hundred bytes per agent; anything near this is not a config file. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * The config's bytes. A link to it is fine (configuration management keeps such files elsewhere), but
 * what it names must be a regular file: a FIFO would block the server's start for ever.
 */
async function readConfigBytes(file: string): Promise<Buffer> {
  const handle = await openRegularFile(await realpath(file));
  try {
    return await readBoundedBytes(handle, file, MAX_CONFIG_BYTES);
  } finally {
    await handle.close();
  }
}

const ENV_STRING = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/**
 * Reads the --config file: `{"tokens": [{"agent", "role", "token": {"token_env": "NAME"} | "${NAME}"}]}`
 * (or `"token_env": "NAME"` beside agent and role). A literal token is refused: secrets live in the
 * environment, never in a file that gets copied around.
 */
export async function loadAuthConfig(file: string, env: NodeJS.ProcessEnv): Promise<TokenTable> {
  let raw: unknown;
  try {
    raw = parseJsonBytes(await readConfigBytes(file), file, { maxBytes: MAX_CONFIG_BYTES });
  } catch (error) {
    throw new Error(`--config ${file}: cannot read it as JSON (${(error as Error).message})`);
  }
  const parsed = AuthConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      `--config ${file}: ${parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; ")}; ` +
        'expected {"tokens": [{"agent": "manager", "role": "observer", "token": {"token_env": "ATOMIZER_TOKEN_MANAGER"}}]}',
    );
  }
  const entries: { identity: Identity; hash: Buffer }[] = [];
  const seen = new Set<string>();
  const roles = new Map<string, { role: string; index: number }>();
  for (const [i, entry] of parsed.data.tokens.entries()) {
    const where = `--config ${file}: tokens[${i}] (${entry.agent})`;
    // Sessions belong to an agent name: one name under two roles would let the lower role act with the
    // higher one's session. Two entries with one role are fine (a token being rotated).
    const earlier = roles.get(entry.agent);
    if (earlier && earlier.role !== entry.role) {
      throw new Error(
        `${where}: agent ${entry.agent} is listed twice with different roles (tokens[${earlier.index}] as ${earlier.role}, ` +
          `tokens[${i}] as ${entry.role}); give each agent one role, or use a different agent name for the other role`,
      );
    }
    roles.set(entry.agent, earlier ?? { role: entry.role, index: i });
    let variable: string | undefined;
    if (entry.token_env !== undefined && entry.token !== undefined) {
      throw new Error(`${where}: give either token or token_env, not both`);
    }
    if (entry.token_env !== undefined) variable = entry.token_env;
    else if (typeof entry.token === "object") variable = entry.token.token_env;
    else if (typeof entry.token === "string") {
      const match = ENV_STRING.exec(entry.token);
      if (!match) {
        throw new Error(
          `${where}: the token is written as a literal; put it in an environment variable and write ` +
            `"token": {"token_env": "ATOMIZER_TOKEN_${entry.agent.toUpperCase().replace(/[^A-Z0-9]/g, "_")}"} or "\${NAME}"`,
        );
      }
      variable = match[1];
    }
    if (variable === undefined) throw new Error(`${where}: no token; add "token": {"token_env": "NAME"}`);
    const value = env[variable];
    if (value === undefined || value.trim() === "") {
      throw new Error(
        `${where}: environment variable ${variable} is not set (or empty); export it before starting`,
      );
    }
    if (value.length < 16)
      throw new Error(`${where}: the token in ${variable} is shorter than 16 characters`);
    if (seen.has(value)) throw new Error(`${where}: the token in ${variable} is also used by another agent`);
    seen.add(value);
    entries.push({ identity: { agent: entry.agent, role: entry.role }, hash: digest(value) });
  }
  return {
    agents: entries.map((entry) => entry.identity),
    lookup: (token) => {
      const wanted = digest(token);
      let found: Identity | undefined;
      for (const entry of entries) {
        if (timingSafeEqual(entry.hash, wanted)) found = entry.identity;
      }
      return found;
    },
  };
}
