/*
 * The startup options of every connection of a backend. The schema travels as
 * a startup parameter, so no statement has to name it; it comes after the
 * caller's own options, so it is the search_path that holds.
 *
 * Every statement jobshard runs reaches its rows through a plain index scan,
 * and the planner must not be let off that. A prepared statement's generic plan
 * is kept for the session: first planned on a table of a page or two, it chose
 * a sequential scan and kept it as the table grew (getJobs read every job per
 * call at 20,000 jobs). Without statistics, an ordered page (setRange, the
 * fetch's pick) was read at 100,000 rows with a bitmap scan of every row of the
 * key and a sort, which cost the same on paper as walking the index in order.
 * See the 'plans' tests. JIT is off as well: it never pays on statements this
 * short, and a plan with a disabled node is priced past jit_above_cost.
 */
export function sessionOptions(schema: string, callerOptions?: string): string {
  return [callerOptions, `-c search_path=${schema}`, '-c enable_seqscan=off -c enable_bitmapscan=off -c jit=off'].filter(Boolean).join(' ');
}
