import { packageVersion } from "../protocol/index.ts";
import { COMMANDS } from "./commands.ts";

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(
    ([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`,
  );
  return (
    `usage: atomizer-jobs <command> [options]\n\ncommands:\n${lines.join("\n")}\n\n` +
    "Run `atomizer-jobs <command> --help` for a command's options.\n"
  );
}

/** The program: returns the exit code instead of exiting, so it can be driven from tests. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "version") {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    const { run } = await command.load();
    return await run(rest);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`atomizer-jobs ${name}: ${message}\n`);
    return 1;
  }
}
