import { expect, test } from "vitest";
import type { ServiceDefinition } from "../../runner/service-task.ts";
import {
  schtasksArgs,
  serviceArguments,
  taskFileBytes,
  taskXml,
  windowsArg,
} from "../../runner/service-task.ts";

const def: ServiceDefinition = {
  name: "atomizer-runner",
  user: "WS01\\nx",
  logon: "password",
  node: "C:\\Program Files\\nodejs\\node.exe",
  script: "C:\\Atomizer\\atomizer-job-queue\\bin\\atomizer-jobs.js",
  runnerArgs: ["--queue", "C:\\Atomizer\\job queue", "--state", "D:\\atomizer\\state", "--slots", "2"],
  stateDir: "D:\\atomizer\\state",
};

test("the task starts at boot, repeats every 5 min as a restart, has no time limit, as the NX user", () => {
  const xml = taskXml(def);
  expect(xml).toContain("<BootTrigger>");
  expect(xml).toMatch(/<Repetition>\s*<Interval>PT5M<\/Interval>/);
  expect(xml).toContain("<MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>");
  expect(xml).toContain("<ExecutionTimeLimit>PT0S</ExecutionTimeLimit>");
  expect(xml).toMatch(/<RestartOnFailure>\s*<Interval>PT1M<\/Interval>\s*<Count>999<\/Count>/);
  expect(xml).toContain("<UserId>WS01\\nx</UserId>");
  expect(xml).toContain("<LogonType>Password</LogonType>");
  expect(xml).toContain("<Command>C:\\Program Files\\nodejs\\node.exe</Command>");
  expect(xml).toContain("<WorkingDirectory>D:\\atomizer\\state</WorkingDirectory>");
  expect(taskXml({ ...def, logon: "s4u" })).toContain("<LogonType>S4U</LogonType>");
});

test("the action's arguments quote folders with spaces (XML-escaped) and log to the state folder", () => {
  expect(serviceArguments(def)).toBe(
    'C:\\Atomizer\\atomizer-job-queue\\bin\\atomizer-jobs.js runner --queue "C:\\Atomizer\\job queue" --state D:\\atomizer\\state --slots 2 --log-file D:\\atomizer\\state\\runner.log',
  );
  expect(taskXml(def)).toContain("--queue &quot;C:\\Atomizer\\job queue&quot;");
  expect(windowsArg("C:\\a b\\")).toBe('"C:\\a b\\\\"');
  expect(() => windowsArg('a"b')).toThrow(/double quote/);
});

test("the definition file is UTF-16LE with a BOM and CRLF lines; schtasks gets /ru and /rp only for password logon", () => {
  const bytes = taskFileBytes(taskXml(def));
  expect([...bytes.subarray(0, 2)]).toEqual([0xff, 0xfe]);
  expect(bytes.subarray(2).toString("utf16le")).toMatch(
    /^<\?xml version="1.0" encoding="UTF-16"\?>\r\n<Task /,
  );
  expect(schtasksArgs.create(def, "D:\\x.xml")).toEqual([
    "/create",
    "/tn",
    "atomizer-runner",
    "/xml",
    "D:\\x.xml",
    "/ru",
    "WS01\\nx",
    "/rp",
    "*",
    "/f",
  ]);
  expect(schtasksArgs.create({ ...def, logon: "s4u" }, "D:\\x.xml")).toEqual([
    "/create",
    "/tn",
    "atomizer-runner",
    "/xml",
    "D:\\x.xml",
    "/f",
  ]);
});
