// `atomizer-jobs keygen` as a person runs it: a real child process writing real key files.
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadSigningKey, loadTrustedKeys } from "../../protocol/index.ts";
import { runAtomizerJobs } from "../helpers/atomizer-jobs.ts";

const created: string[] = [];
afterEach(async () => {
  await Promise.all(created.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});
async function keysDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "atomizer-keygen-"));
  created.push(dir);
  return join(dir, "keys");
}

describe("atomizer-jobs keygen (real child processes)", () => {
  it("writes NAME.key and NAME.pub, prints both paths, the key id and where each goes", async () => {
    const dir = await keysDir();
    const { code, stdout, stderr } = await runAtomizerJobs(["keygen", "--out", dir]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const signing = await loadSigningKey(join(dir, "submitter.key"));
    const [trusted] = await loadTrustedKeys([join(dir, "submitter.pub")]);
    expect(trusted?.keyId).toBe(signing.keyId);
    expect(stdout).toContain(`key ${signing.keyId} written`);
    expect(stdout).toMatch(
      new RegExp(`private key ${join(dir, "submitter.key")}\\n.*outside any synced folder.*--signing-key`),
    );
    expect(stdout).toMatch(new RegExp(`public key  ${join(dir, "submitter.pub")}\\n.*--trust-key`));
    if (process.platform !== "win32")
      expect((await stat(join(dir, "submitter.key"))).mode & 0o777).toBe(0o600);
  });

  it("--json gives the key id and both paths, --name names the files", async () => {
    const dir = await keysDir();
    const { code, stdout } = await runAtomizerJobs([
      "keygen",
      "--out",
      dir,
      "--name",
      "workstation",
      "--json",
    ]);
    expect(code).toBe(0);
    const printed = JSON.parse(stdout) as {
      key_id: string;
      private_key: { path: string; goes: string };
      public_key: { path: string; goes: string };
    };
    const [trusted] = await loadTrustedKeys([printed.public_key.path]);
    expect(printed).toMatchObject({
      key_id: trusted?.keyId,
      private_key: { path: join(dir, "workstation.key"), goes: expect.stringContaining("--signing-key") },
      public_key: { path: join(dir, "workstation.pub"), goes: expect.stringContaining("--trust-key") },
    });
  });

  it("never overwrites a key: the second run fails and both files stay as they were", async () => {
    const dir = await keysDir();
    expect((await runAtomizerJobs(["keygen", "--out", dir])).code).toBe(0);
    const before = await Promise.all(
      ["submitter.key", "submitter.pub"].map((name) => readFile(join(dir, name), "utf8")),
    );
    const again = await runAtomizerJobs(["keygen", "--out", dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(
      /^error \(conflict\): a key named submitter already exists in .*choose another --name/,
    );
    const after = await Promise.all(
      ["submitter.key", "submitter.pub"].map((name) => readFile(join(dir, name), "utf8")),
    );
    expect(after).toEqual(before);
    const json = await runAtomizerJobs(["keygen", "--out", dir, "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: "conflict" } });
  });

  it.each([
    [[], 2, /--out DIR is required/],
    [["--out", "x", "extra"], 2, /unexpected extra/],
    [["--out", "x", "--bogus"], 2, /Unknown option '--bogus'/],
    [["--out", "x", "--name", "../escape"], 1, /key name "\.\.\/escape" must be/],
  ])("keygen %j: exit %i", async (args, exit, message) => {
    const { code, stderr } = await runAtomizerJobs(["keygen", ...args], {
      cwd: await keysDir().then((d) => join(d, "..")),
    });
    expect(code).toBe(exit);
    expect(stderr).toMatch(message);
  });
});
