import { resolve } from "node:path";
import { generateKeyPairFiles } from "../protocol/index.ts";
import { noPositionals, out, outJson, parse, runCli, UsageError } from "./submitter/cli-support.ts";

const USAGE = `usage: atomizer-jobs keygen --out DIR [--name NAME] [--json]

Writes an Ed25519 key pair: DIR/NAME.key (private, mode 600) and DIR/NAME.pub (public).
Existing keys are never overwritten: to rotate, choose another --name.
  --out DIR    where to write them: a folder on the signing host that no Syncthing folder shares
  --name NAME  file name (default submitter; make the workstation's with --name workstation)
  --json       print the paths and key id as JSON`;

const OPTIONS = {
  out: { type: "string" },
  name: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const PRIVATE_GOES =
  "stays on this (signing) host, outside any synced folder, readable only by the user the server or runner runs as: give it there with --signing-key (or ATOMIZER_SIGNING_KEY)";
const PUBLIC_GOES =
  "goes to the other side: give it there with --trust-key (the runner trusts the submitter's .pub, the MCP server the workstation's)";

export function run(argv: string[]): Promise<number> {
  return runCli(argv, USAGE, async () => {
    const { values, positionals } = parse(argv, OPTIONS, USAGE);
    noPositionals(positionals, USAGE);
    if (!values.out) throw new UsageError(`--out DIR is required\n\n${USAGE}`);
    const pair = await generateKeyPairFiles(resolve(values.out), values.name ?? "submitter");
    if (values.json) {
      outJson({
        key_id: pair.keyId,
        private_key: { path: pair.privatePath, goes: PRIVATE_GOES },
        public_key: { path: pair.publicPath, goes: PUBLIC_GOES },
      });
    } else {
      out([
        `key ${pair.keyId} written`,
        `  private key ${pair.privatePath}`,
        `    ${PRIVATE_GOES}`,
        `  public key  ${pair.publicPath}`,
        `    ${PUBLIC_GOES}`,
      ]);
    }
    return 0;
  });
}
