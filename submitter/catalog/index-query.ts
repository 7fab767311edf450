import type { SQLInputValue } from "node:sqlite";
import type { CatalogQuery } from "./job-catalog.ts";

export interface BuiltQuery {
  page: { sql: string; params: SQLInputValue[] };
  total: { sql: string; params: SQLInputValue[] };
}

/** Default and largest page a query returns (list_jobs asks for at most 200). */
export const DEFAULT_QUERY_LIMIT = 200;

/**
 * The SQL of one listing: filters on indexed columns, newest first by the submission time (or in
 * change order, for readers catching up), and its total before paging.
 */
export function buildQuery(query: CatalogQuery): BuiltQuery {
  const where: string[] = [];
  const params: SQLInputValue[] = [];
  if (query.states && query.states.length > 0) {
    where.push(`state IN (${query.states.map(() => "?").join(", ")})`);
    params.push(...query.states);
  }
  if (query.project !== undefined) {
    where.push("project = ?");
    params.push(query.project);
  }
  if (query.created_by !== undefined) {
    where.push("created_by = ?");
    params.push(query.created_by);
  }
  if (query.changedAfter !== undefined) {
    where.push("change > ?");
    params.push(query.changedAfter);
  }
  const clause = where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "";
  const order = query.order === "change" ? "change ASC" : "sort_key DESC, job_id DESC";
  const limit = query.limit ?? DEFAULT_QUERY_LIMIT;
  const offset = query.offset ?? 0;
  return {
    page: {
      sql: `SELECT row, change FROM jobs${clause} ORDER BY ${order} LIMIT ? OFFSET ?`,
      params: [...params, limit, offset],
    },
    total: { sql: `SELECT count(*) AS n FROM jobs${clause}`, params },
  };
}
