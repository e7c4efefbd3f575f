import { heldIds, idNumber, type HashItem, type ItemRef, type UnitItem } from './unit-stream.js';

/**
 * A hash of the unit that says, per form of job id, how far its ids were drawn: a target draws
 * its new ids above it, so that an id of a job deleted before the move is not handed out again
 * (a client holding it gets JobNotFoundError, not another job). The export's live jobs and alias
 * hash say which ids are held now (heldIds); only this says which were held once.
 *
 * Each exporter writes its own form's field from its counter, keeps the other forms' fields as
 * the unit brought them (a unit that went Redis → Postgres → Redis carries its Redis ids' mark
 * through Postgres, which draws none of them), and each importer starts its counter above its
 * own form's field. The hash moves and is stored like any of the unit's hashes; tenants cannot
 * write it (keys starting with `jobshard.` are refused by the router).
 */
export const ID_MARKS_HASH = 'jobshard.idmarks';
export const ID_MARKS_REF: ItemRef = `h:${ID_MARKS_HASH}`;

/** `plain`: "<n>" (memory, Postgres); `tagged`: "<n>.<tag>" (Redis). */
export type IdForm = 'plain' | 'tagged';

const isMarks = (item: UnitItem): item is HashItem => item.kind === 'hash' && item.key === ID_MARKS_HASH;

/**
 * The highest id number `item` says the unit's ids reached in `form`: the held ids it names
 * (heldIds) that `counts` accepts, or its mark if it is the marks hash. An importer's counter goes
 * above it.
 */
export function idFloor(item: UnitItem, form: IdForm, counts: (id: string) => boolean = () => true): number {
  let n = isMarks(item) ? Number(item.fields[form] ?? 0) || 0 : 0;
  for (const id of heldIds(item)) if (counts(id)) n = Math.max(n, idNumber(id));
  return n;
}

/** The marks hash with `form` raised to `drawn`; null when it would have no field (a hash needs one). */
function merged(stored: HashItem | null, form: IdForm, drawn: number): HashItem | null {
  const fields = { ...stored?.fields };
  const n = Math.max(Number(fields[form] ?? 0) || 0, drawn);
  if (n > 0) fields[form] = String(n);
  return Object.keys(fields).length > 0 ? { kind: 'hash', key: ID_MARKS_HASH, fields, expireAt: null } : null;
}

/**
 * An export with the marks hash up to date: a stored one merged with `drawn()` (the exporter's
 * counter), or one added at the end. A unit that exports nothing gets none.
 */
export async function* exportWithIdMarks(batches: AsyncIterable<UnitItem[]>, form: IdForm, drawn: () => Promise<number>): AsyncIterable<UnitItem[]> {
  let any = false;
  let seen = false;
  for await (const batch of batches) {
    any ||= batch.length > 0;
    const i = batch.findIndex(isMarks);
    if (i === -1) {
      yield batch;
      continue;
    }
    seen = true;
    const m = merged(batch[i] as HashItem, form, await drawn());
    yield m ? batch.map((item, j) => (j === i ? m : item)) : batch;
  }
  if (!any || seen) return;
  const m = merged(null, form, await drawn());
  if (m) yield [m];
}

/** A delta's items with the marks hash up to date, when `refs` name it (a move's last copy always does). */
export async function refsWithIdMarks(items: UnitItem[], refs: readonly ItemRef[], form: IdForm, drawn: () => Promise<number>): Promise<UnitItem[]> {
  if (!refs.includes(ID_MARKS_REF)) return items;
  const i = items.findIndex((item) => isMarks(item) || (item.kind === 'gone' && item.ref === ID_MARKS_REF));
  const m = merged(i !== -1 && isMarks(items[i]!) ? (items[i] as HashItem) : null, form, await drawn());
  if (!m) return items;
  return i === -1 ? [...items, m] : items.map((item, j) => (j === i ? m : item));
}
