export declare const SEMI_SPACE_FLAG: "--max-semi-space-size=1";
export declare const RELAUNCHED_ENV: "ATOMIZER_RELAUNCHED";
export declare const LONG_LIVED_COMMANDS: string[];

export declare function relaunchArgv(options: {
  execPath: string;
  argv: readonly string[];
  execArgv: readonly string[];
  env: Record<string, string | undefined>;
  canExec: boolean;
  /** True when Node's permission model is on (process.permission exists). */
  permission?: boolean;
}): string[] | undefined;
