// Which runner makes submit_job refuse: only a live one that names the keys it trusts and not ours.
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, test } from "vitest";
import type { SigningKey } from "../../../protocol/index.ts";
import { keyIdOf } from "../../../protocol/index.ts";
import type { RunnerView } from "../../../submitter/jobs/runners.ts";
import { refusingRunner } from "../../../submitter/signing/runner-trust.ts";

const pair = generateKeyPairSync("ed25519");
const key: SigningKey = { ...pair, keyId: keyIdOf(pair.publicKey), file: "submitter.key" };
const live: RunnerView = { host: "nx", running: [], queued: [], silent: false };

describe("refusingRunner", () => {
  test.each([
    ["no runner", [], key, undefined],
    ["a runner that names no keys accepts unsigned jobs", [live], undefined, undefined],
    ["a runner trusting our key", [{ ...live, trusted_keys: [key.keyId] }], key, undefined],
    ["a runner trusting another key", [{ ...live, trusted_keys: ["ed25519:0000000000000000"] }], key, "nx"],
    [
      "a runner trusting keys, and we sign nothing",
      [{ ...live, trusted_keys: [key.keyId] }],
      undefined,
      "nx",
    ],
    ["a runner trusting no key at all", [{ ...live, trusted_keys: [] }], key, "nx"],
    ["a silent runner is not asked", [{ ...live, silent: true, trusted_keys: [] }], key, undefined],
    [
      "a stopped runner is not asked",
      [{ ...live, stopped_at: "2026-01-01T00:00:00Z", trusted_keys: [] }],
      key,
      undefined,
    ],
    ["one of two live runners would refuse", [live, { ...live, host: "nx2", trusted_keys: [] }], key, "nx2"],
  ] as [string, RunnerView[], SigningKey | undefined, string | undefined][])(
    "%s",
    (_label, runners, signing, refused) => {
      expect(refusingRunner(runners, signing)?.host).toBe(refused);
    },
  );
});
