import type { SQLInputValue } from "node:sqlite";
import type { CatalogQuery } from "./job-catalog.ts";

export interface BuiltQuery {
  page: { sql: string; params: SQLInputValue[] };
  total: { sql: string; params: SQLInputValue[] };
}

/** Default and largest page a query returns (list_jobs asks for at most 200). */
export const DEFAULT_QUERY_LIMIT = 200;

const NEWEST = "ORDER BY sort_key DESC, job_id DESC";

function filters(query: CatalogQuery, withStates: boolean): { where: string[]; params: SQLInputValue[] } {
  const where: string[] = [];
  const params: SQLInputValue[] = [];
  if (withStates && query.states && query.states.length > 0) {
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
  return { where, params };
}

const clauseOf = (where: readonly string[]) => (where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "");

/**
 * The SQL of one listing: filters on indexed columns, newest first by the submission time (or in
 * change order, for readers catching up), and its total before paging. Several states are read
 * state by state, each along its own index and cut at the page's depth, and merged: one IN over
 * the index would sort every matching row (60,000 finished jobs) to show twenty.
 */
export function buildQuery(query: CatalogQuery): BuiltQuery {
  const limit = query.limit ?? DEFAULT_QUERY_LIMIT;
  const offset = query.offset ?? 0;
  const states = query.states ?? [];
  const all = filters(query, true);
  // Without a change filter the total is a sum over the group counts (index-counts.ts), which carry
  // the same column names; with one, the few rows changed since are counted.
  const grouped = filters({ ...query, changedAfter: undefined }, true);
  const total =
    query.changedAfter === undefined
      ? {
          sql: `SELECT coalesce(sum(n), 0) AS n FROM counts${clauseOf(grouped.where)}`,
          params: grouped.params,
        }
      : { sql: `SELECT count(*) AS n FROM jobs${clauseOf(all.where)}`, params: all.params };
  if (query.order !== "change" && states.length > 1) {
    const rest = filters(query, false);
    const parts = states.map(
      () =>
        `SELECT * FROM (SELECT row, change, sort_key, job_id FROM jobs${clauseOf(["state = ?", ...rest.where])} ${NEWEST} LIMIT ?)`,
    );
    const params = states.flatMap((state) => [state, ...rest.params, limit + offset]);
    return {
      page: {
        sql: `SELECT row, change FROM (${parts.join(" UNION ALL ")}) ${NEWEST} LIMIT ? OFFSET ?`,
        params: [...params, limit, offset],
      },
      total,
    };
  }
  const order = query.order === "change" ? "ORDER BY change ASC" : NEWEST;
  return {
    page: {
      sql: `SELECT row, change FROM jobs${clauseOf(all.where)} ${order} LIMIT ? OFFSET ?`,
      params: [...all.params, limit, offset],
    },
    total,
  };
}
