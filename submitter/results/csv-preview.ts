import { createInterface } from "node:readline";
import { z } from "zod";
import { openRegularFile } from "../../protocol/index.ts";

export const CsvPreviewSchema = z.object({
  path: z.string(),
  columns: z.array(z.string()),
  column_count: z.number().int(),
  rows: z.number().int(),
  first_rows: z.array(z.array(z.string())),
});
export type CsvPreview = z.infer<typeof CsvPreviewSchema>;

const MAX_COLUMNS = 20;
const MAX_ROWS_SHOWN = 5;
const MAX_CELL = 60;

/** Splits one CSV line (RFC 4180 quoting, no embedded newlines). */
export function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (quoted) {
      if (char === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ",") {
      cells.push(cell);
      cell = "";
    } else cell += char;
  }
  cells.push(cell);
  return cells;
}

/** Columns, row count and first rows of a CSV, streamed: a large table is never held in memory. */
export async function previewCsv(file: string, displayPath: string): Promise<CsvPreview> {
  // Never through a link or into a FIFO: the preview would hang or show another file.
  const handle = await openRegularFile(file);
  const input = handle.createReadStream({ encoding: "utf8", autoClose: false });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let header: string[] | undefined;
  let rows = 0;
  const first: string[][] = [];
  try {
    for await (const line of lines) {
      if (line.trim() === "") continue;
      if (!header) {
        header = splitCsvLine(line.replace(/^\uFEFF/, ""));
        continue;
      }
      rows++;
      if (first.length < MAX_ROWS_SHOWN) {
        first.push(
          splitCsvLine(line)
            .slice(0, MAX_COLUMNS)
            .map((cell) => cell.slice(0, MAX_CELL)),
        );
      }
    }
  } finally {
    input.destroy();
    await handle.close();
  }
  return {
    path: displayPath,
    columns: (header ?? []).slice(0, MAX_COLUMNS),
    column_count: header?.length ?? 0,
    rows,
    first_rows: first,
  };
}
