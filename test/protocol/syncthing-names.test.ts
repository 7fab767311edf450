import { describe, expect, it } from "vitest";
import { isConflictCopy, isSyncthingArtefact, syncthingTempTarget } from "../../protocol/syncthing-names.ts";

describe("isSyncthingArtefact", () => {
  it.each<[string, boolean]>([
    [".stfolder", true],
    [".stignore", true],
    [".stversions", true],
    [".syncthing.model.prt.tmp", true],
    ["~syncthing~model.prt.tmp", true],
    [".syncthing.job.json.tmp", true],
    ["model.prt", false],
    [".stignore.bak", false],
    ["stfolder", false],
    [".syncthing.model.prt", false],
    ["~syncthing~model.prt", false],
    ["model.tmp", false],
  ])("%j: %s", (name, expected) => {
    expect(isSyncthingArtefact(name)).toBe(expected);
  });
});

describe("syncthingTempTarget", () => {
  it.each<[string, string | undefined]>([
    [".syncthing.model.prt.tmp", "model.prt"],
    ["~syncthing~model.prt.tmp", "model.prt"],
    [".syncthing.a.b.c.tmp", "a.b.c"],
    ["~syncthing~spiegel-größe.prt.tmp", "spiegel-größe.prt"],
    ["model.prt.tmp", undefined],
    [".syncthing.model.prt", undefined],
    [".atomizer-job.json.1-ab.tmp", undefined],
  ])("%j -> %j", (name, target) => {
    expect(syncthingTempTarget(name)).toBe(target);
  });
});

describe("isConflictCopy", () => {
  it.each<[string, boolean]>([
    ["a.sync-conflict-20260210-143022-ABCDEF7.prt", true],
    ["job.sync-conflict-20260210-143022-ABCDEF7.json", true],
    ["notes.sync-conflict-20260210-143022-ABCDEF7", true],
    ["model.sync-conflict-20260210-143022-ABCDEF7.tar.gz", true],
    ["a.prt", false],
    ["a.sync-conflict.prt", false],
    ["a.sync-conflict-2026-143022-ABCDEF7.prt", false],
    ["a.sync-conflict-20260210-143022-abcdef7.prt", false],
    ["a.sync-conflict-20260210-143022-ABCDEF.prt", false],
    ["a.sync-conflict-20260210-143022-ABCDEF7X.prt", false],
  ])("%j: %s", (name, expected) => {
    expect(isConflictCopy(name)).toBe(expected);
  });
});
