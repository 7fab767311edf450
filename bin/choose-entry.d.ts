export declare const RUN_FROM: "ATOMIZER_RUN_FROM";

export declare function chooseEntry(
  root: string,
  module: string,
  env?: Record<string, string | undefined>,
  warn?: (line: string) => void,
): URL;
