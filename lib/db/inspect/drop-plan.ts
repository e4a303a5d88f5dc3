/**
 * Which suggested index drops are safe to run together. Each check alone is right (an index
 * nobody scans; an index another one covers), yet together they can contradict: dropping the
 * unused (customer_id, note) and the "redundant" (customer_id) it covers leaves customer_id
 * with no index at all. The plan keeps every drop whose reason still holds once all the others
 * are made.
 */
import type { Sql } from "../pool.js";
import { ownSchema } from "./probe.js";

export interface IndexShape {
  oid: number;
  /** As a regclass prints it: quoted and qualified where needed. */
  index: string;
  table: string;
  /** The key columns in order; null for an expression. */
  keys: (string | null)[];
  usable: boolean;
}

export interface ForeignKeyColumns {
  table: string;
  constraint: string;
  references: string;
  columns: string[];
}

/** Every index of the platform's schemas, with its key columns (what a drop takes away). */
export async function indexShapes(sql: Sql): Promise<IndexShape[]> {
  return sql<IndexShape[]>`
    select
      i.indexrelid::int8::float8 as oid,
      i.indexrelid::regclass::text as index,
      i.indrelid::regclass::text as table,
      to_json(array(
        select a.attname::text
        from unnest((string_to_array(i.indkey::text, ' ')::int[])[1:i.indnkeyatts]) with ordinality as k(attnum, position)
        left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum and k.attnum > 0
        order by k.position)) as keys,
      i.indisvalid and i.indpred is null as usable
    from pg_index i
    join pg_class c on c.oid = i.indexrelid
    join pg_namespace n on n.oid = c.relnamespace
    where ${ownSchema(sql)}`;
}

/** The foreign keys of the platform's schemas: an index leading with their columns keeps deletes on the referenced table cheap. */
export async function foreignKeyColumns(sql: Sql): Promise<ForeignKeyColumns[]> {
  return sql<ForeignKeyColumns[]>`
    select
      k.conrelid::regclass::text as table,
      k.conname as constraint,
      k.confrelid::regclass::text as references,
      to_json(array(
        select a.attname::text
        from unnest(k.conkey) with ordinality as c(attnum, position)
        join pg_attribute a on a.attrelid = k.conrelid and a.attnum = c.attnum
        order by c.position)) as columns
    from pg_constraint k
    join pg_namespace n on n.oid = k.connamespace
    where k.contype = 'f' and ${ownSchema(sql)}`;
}

export type DropReason = { reason: "unused" } | { reason: "redundant"; keeperOid: number };

export interface SuggestedIndex {
  table: string;
  columns: string[];
}

/** Why a drop is held back, by index oid; an index absent from the map may be dropped. */
export type HeldDrops = Map<number, string>;

const leadsWith = (keys: readonly (string | null)[], columns: readonly string[]) =>
  columns.length <= keys.length && columns.every((column, i) => keys[i] === column);

/** The first `columns.length` keys are these columns in any order (what serves a foreign key). */
const leadsWithSet = (keys: readonly (string | null)[], columns: readonly string[]) =>
  columns.length <= keys.length && columns.every((column) => keys.slice(0, columns.length).includes(column));

/**
 * The drops to hold back so that the rest are safe to run as a whole:
 * - a redundant index whose covering index is itself dropped (as unused) stays: the smaller
 *   index keeps serving what both served;
 * - no index goes that is the last usable one leading with a foreign key's columns once the
 *   other drops are made (the foreign-key check would then ask for it back);
 * - no index goes that leads with the columns of an index the advice suggests building.
 * Candidates come largest first; each is judged, smallest first, against the drops still
 * planned, so that where one of several must stay it is the smallest.
 */
export function heldDrops(
  candidates: ReadonlyMap<number, DropReason>,
  shapes: readonly IndexShape[],
  foreignKeys: readonly ForeignKeyColumns[],
  suggested: readonly SuggestedIndex[],
): HeldDrops {
  const held: HeldDrops = new Map();
  const byOid = new Map(shapes.map((shape) => [shape.oid, shape]));
  const dropped = (oid: number) => candidates.has(oid) && !held.has(oid);
  for (const [oid, why] of candidates) {
    if (why.reason !== "redundant") continue;
    const keeper = candidates.get(why.keeperOid);
    if (keeper) held.set(oid, `${byOid.get(why.keeperOid)?.index ?? "the index covering it"} is suggested for a drop as ${keeper.reason}: keep this one`);
  }
  // Smallest first: where one of several must stay, the smallest is the one kept.
  for (const oid of [...candidates.keys()].reverse()) {
    if (!dropped(oid)) continue;
    const shape = byOid.get(oid);
    if (!shape) continue;
    for (const fk of foreignKeys) {
      if (fk.table !== shape.table || !leadsWithSet(shape.keys, fk.columns)) continue;
      const other = shapes.some((s) => s.oid !== oid && s.table === shape.table && s.usable && !dropped(s.oid) && leadsWithSet(s.keys, fk.columns));
      if (!other) {
        held.set(oid, `the last index serving foreign key ${fk.constraint}: without it each delete in ${fk.references} scans this table`);
        break;
      }
    }
    if (held.has(oid)) continue;
    const serves = suggested.find((s) => s.table === shape.table && leadsWith(shape.keys, s.columns));
    if (serves) held.set(oid, `it leads with (${serves.columns.join(", ")}), the columns of an index suggested below`);
  }
  return held;
}
