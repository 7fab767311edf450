/** A CLI command: loaded only when used, so `mcp` never loads the runner and vice versa. */
export interface Command {
  summary: string;
  load: () => Promise<{ run: (argv: string[]) => Promise<number> }>;
}

/** Every `atomizer-jobs` command. Server and runner commands register here. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  init: {
    summary: "create a queue folder layout (outbox/, inbox/, archive/, .stignore)",
    load: () => import("./init-command.ts"),
  },
};
