// The runner's key options: entries trimmed, empty ones dropped, and a list that is given but names no
// file refused (a usage error), never read as "no keys", which would run unsigned jobs.
import path from "node:path";
import { describe, expect, test } from "vitest";
import { keyFiles, UsageError } from "../../../cli/runner/options.ts";

const D = path.delimiter;

describe("keyFiles", () => {
  test.for([
    {
      name: "options win over the environment",
      values: { "trust-key": ["a.pub"] },
      env: { ATOMIZER_TRUST_KEYS: "b.pub" },
      want: ["a.pub"],
    },
    {
      name: "options are trimmed",
      values: { "trust-key": [" a.pub ", "b.pub"] },
      env: {},
      want: ["a.pub", "b.pub"],
    },
    {
      name: "an environment list, trimmed, empties dropped",
      values: {},
      env: { ATOMIZER_TRUST_KEYS: ` a.pub ${D}${D} b.pub${D}` },
      want: ["a.pub", "b.pub"],
    },
    { name: "an empty variable is unset", values: {}, env: { ATOMIZER_TRUST_KEYS: "" }, want: [] },
    { name: "no variable", values: {}, env: {}, want: [] },
  ])("$name", ({ values, env, want }) => {
    expect(keyFiles(values, env).trustKeys).toEqual(want);
  });

  test.for([
    {
      name: "separators only",
      values: {},
      env: { ATOMIZER_TRUST_KEYS: `${D}` },
      what: "ATOMIZER_TRUST_KEYS",
    },
    { name: "blanks", values: {}, env: { ATOMIZER_TRUST_KEYS: " " }, what: "ATOMIZER_TRUST_KEYS" },
    {
      name: "a blank option",
      values: { "trust-key": ["  "] },
      env: { ATOMIZER_TRUST_KEYS: "a.pub" },
      what: "--trust-key",
    },
    { name: "a blank signing key", values: { "signing-key": " " }, env: {}, what: "--signing-key" },
    {
      name: "a blank ATOMIZER_SIGNING_KEY",
      values: {},
      env: { ATOMIZER_SIGNING_KEY: " " },
      what: "ATOMIZER_SIGNING_KEY",
    },
  ])("refuses $name", ({ values, env, what }) => {
    expect(() => keyFiles(values, env)).toThrow(UsageError);
    expect(() => keyFiles(values, env)).toThrow(`${what} is given but names no key file`);
  });

  test("trims the signing key and leaves an empty ATOMIZER_SIGNING_KEY unset", () => {
    expect(keyFiles({ "signing-key": " w.key " }, {}).signingKey).toBe("w.key");
    expect(keyFiles({}, { ATOMIZER_SIGNING_KEY: "" })).toEqual({ trustKeys: [] });
  });
});
