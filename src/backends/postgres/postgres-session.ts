/*
 * The startup options of every connection of a backend. The schema travels as
 * a startup parameter, so no statement has to name it; it comes after the
 * caller's own options, so it is the search_path that holds.
 *
 * Every statement jobshard runs, in its plpgsql functions too, reaches its rows
 * through a plain index scan, and the planner must not be let off that: a
 * session keeps its plans (plpgsql's, and a prepared statement's generic plan),
 * and one made while a table was a page or two stayed when it grew. Seen (the
 * 'plans' tests hold each one):
 * - the commit's and ack's deletes by id (= ANY) stayed sequential scans of
 *   every job and history row, 4.5 ms each in every group commit of a drain;
 *   getJobs stayed a sequential scan of jobs;
 * - without statistics, the fetch's pick and setRange read an ordered page at
 *   100,000 rows with a bitmap scan of every row of the queue or set and a sort,
 *   which cost the same on paper as the index walk: 46-52 ms a 64-job fetch
 *   against 2.9-3.1 ms.
 * JIT is off as well: it never pays on statements this short, and a plan with a
 * disabled node is priced past jit_above_cost (enable_sort = off, tried first,
 * spent 650 ms compiling each fetch).
 */
export function sessionOptions(schema: string, callerOptions?: string): string {
  return [callerOptions, `-c search_path=${schema}`, '-c enable_seqscan=off -c enable_bitmapscan=off -c jit=off'].filter(Boolean).join(' ');
}
