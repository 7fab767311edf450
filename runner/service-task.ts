import path from "node:path";

/** What the Windows service (a Task Scheduler task) runs and as whom. */
export interface ServiceDefinition {
  /** Task name, e.g. `atomizer-runner`. */
  name: string;
  /** `DOMAIN\user` that holds the NX licence environment. */
  user: string;
  /** Password: "run whether the user is logged on or not" with the user's network credentials. S4U: no stored password, local resources only. */
  logon: "password" | "s4u";
  /** node.exe and bin\atomizer-jobs.js. */
  node: string;
  script: string;
  /** The runner's own options (`--queue`, `--work`, `--state`, `--slots`, `--python`, ...). */
  runnerArgs: string[];
  stateDir: string;
}

/** Where the runner of a service logs: a file under its state folder (a task has no console). */
export function serviceLogFile(stateDir: string): string {
  return path.win32.join(stateDir, "runner.log");
}

function xmlText(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * One Windows command-line argument. Quotes cannot be escaped reliably for every program's parser, so an
 * argument holding one is refused (folder names never need one).
 */
export function windowsArg(value: string): string {
  if (value.includes('"'))
    throw new Error(`argument ${value} holds a double quote, which a task's command line cannot carry`);
  if (value.length > 0 && !/[\s&|<>^]/.test(value)) return value;
  // A trailing backslash would escape the closing quote: double it.
  return `"${value.replace(/(\\+)$/, "$1$1")}"`;
}

/** The action's argument string: the script, `runner`, the runner's options and its log file. */
export function serviceArguments(def: ServiceDefinition): string {
  return [def.script, "runner", ...def.runnerArgs, "--log-file", serviceLogFile(def.stateDir)]
    .map(windowsArg)
    .join(" ");
}

/**
 * The Task Scheduler definition (schema 1.2, Windows 7 and later). Started at boot; restarted on
 * failure by two means, because Task Scheduler's RestartOnFailure covers a failed launch but not every
 * exit code: the boot trigger repeats every 5 minutes, and IgnoreNew makes a repeat a no-op while the
 * runner runs, so a runner that died is back within 5 minutes. No time limit. The runner's own state
 * lock refuses a second runner anyway.
 */
export function taskXml(def: ServiceDefinition): string {
  const logon = def.logon === "password" ? "Password" : "S4U";
  return `<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>atomizer-job-queue runner: runs the NX/Optuna jobs of the synced queue (atomizer-jobs service install)</Description>
  </RegistrationInfo>
  <Triggers>
    <BootTrigger>
      <Enabled>true</Enabled>
      <Repetition>
        <Interval>PT5M</Interval>
        <StopAtDurationEnd>false</StopAtDurationEnd>
      </Repetition>
    </BootTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>${xmlText(def.user)}</UserId>
      <LogonType>${logon}</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>true</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <IdleSettings>
      <StopOnIdleEnd>false</StopOnIdleEnd>
      <RestartOnIdle>false</RestartOnIdle>
    </IdleSettings>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <RunOnlyIfIdle>false</RunOnlyIfIdle>
    <WakeToRun>false</WakeToRun>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Priority>7</Priority>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>999</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>${xmlText(def.node)}</Command>
      <Arguments>${xmlText(serviceArguments(def))}</Arguments>
      <WorkingDirectory>${xmlText(def.stateDir)}</WorkingDirectory>
    </Exec>
  </Actions>
</Task>
`;
}

/** schtasks reads a definition file as UTF-16 with a byte-order mark, as it writes them. */
export function taskFileBytes(xml: string): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(xml.replace(/\r?\n/g, "\r\n"), "utf16le")]);
}

/** The schtasks calls of install, uninstall and status. */
export const schtasksArgs = {
  create: (def: ServiceDefinition, xmlFile: string, password?: string): string[] => [
    "/create",
    "/tn",
    def.name,
    "/xml",
    xmlFile,
    ...(def.logon === "password" ? ["/ru", def.user, "/rp", password ?? "*"] : []),
    "/f",
  ],
  run: (name: string): string[] => ["/run", "/tn", name],
  remove: (name: string): string[] => ["/delete", "/tn", name, "/f"],
  query: (name: string): string[] => ["/query", "/tn", name, "/fo", "LIST", "/v"],
};
