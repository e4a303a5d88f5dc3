/**
 * Plan fingerprints: the shape of a statement's generic plan (node types, join kinds, the
 * relations and indexes read; not costs, not row estimates), hashed. Two snapshots that find
 * different fingerprints for one statement saw its plan change. The plan is made as advice.ts
 * makes it (PREPARE under force_generic_plan, EXPLAIN EXECUTE with NULLs: PostgreSQL 15 has no
 * EXPLAIN (GENERIC_PLAN)), only for statements plannable.ts allows, and never run.
 */
import { createHash } from "node:crypto";
import type { Transaction } from "../pool.js";
import { genericPlanTree, type AdviceCandidate, type PlanNode } from "./advice.js";

export interface PlanFingerprint {
  queryId: string;
  fingerprint: string;
  /** The scans, in plan order: "Index Scan using idx_x on public.messages, Seq Scan on public.agents". */
  summary: string;
  /** The shape as EXPLAIN (COSTS OFF) would indent it. */
  plan: string;
}

interface Shape {
  node: string;
  relation?: string;
  index?: string;
  children: Shape[];
}

/** The fields that make a plan's shape; the rest (costs, rows, widths, output lists) change with the data. */
function shapeOf(node: PlanNode): Shape {
  const kind = [
    node["Partial Mode"] === "Simple" ? undefined : node["Partial Mode"],
    node["Parallel Aware"] === true ? "Parallel" : undefined,
    node["Node Type"],
    node.Strategy === "Plain" ? undefined : node.Strategy,
    node["Join Type"] === "Inner" ? undefined : node["Join Type"],
    node["Scan Direction"] === "Backward" ? "Backward" : undefined,
  ]
    .filter((part): part is string => typeof part === "string")
    .join(" ");
  return {
    node: kind,
    ...(node["Relation Name"] ? { relation: `${node.Schema ? `${node.Schema}.` : ""}${node["Relation Name"]}` } : {}),
    ...(typeof node["Index Name"] === "string" ? { index: node["Index Name"] } : {}),
    children: (node.Plans ?? []).map(shapeOf),
  };
}

function nodeLine(shape: Shape): string {
  return `${shape.node}${shape.index ? ` using ${shape.index}` : ""}${shape.relation ? ` on ${shape.relation}` : ""}`;
}

function lines(shape: Shape, depth = 0): string[] {
  const own = depth === 0 ? nodeLine(shape) : `${"      ".repeat(depth - 1)}  ->  ${nodeLine(shape)}`;
  return [own, ...shape.children.flatMap((child) => lines(child, depth + 1))];
}

function scans(shape: Shape): string[] {
  return [...(shape.relation || shape.index ? [nodeLine(shape)] : []), ...shape.children.flatMap(scans)];
}

/** A plan tree's fingerprint, summary and indented shape. */
export function planFingerprint(queryId: string, plan: PlanNode): PlanFingerprint {
  const shape = shapeOf(plan);
  return {
    queryId,
    fingerprint: createHash("sha256").update(JSON.stringify(shape)).digest("hex").slice(0, 16),
    summary: scans(shape).join(", ") || nodeLine(shape),
    plan: lines(shape).join("\n"),
  };
}

/** The fingerprints of the statements' generic plans; a statement that cannot be planned (another role's, gone) is left out. */
export async function planFingerprints(tx: Transaction, candidates: readonly AdviceCandidate[]): Promise<PlanFingerprint[]> {
  await tx`select set_config('plan_cache_mode', 'force_generic_plan', true)`;
  const found: PlanFingerprint[] = [];
  for (const candidate of candidates) {
    const tree = await genericPlanTree(tx, candidate);
    if (tree.plan) found.push(planFingerprint(candidate.queryId, tree.plan));
  }
  return found;
}

/** A plan's nodes as its shape's lines say them, without the indentation. */
const nodesOf = (plan: string) => plan.split("\n").map((line) => line.replace(/^\s*(->\s+)?/, ""));

/**
 * How two plans differ, in words: their scans where those differ ("Index Scan using idx_x on
 * public.t" to "Seq Scan on public.t"), else the nodes only one of them has ("Hash Join" to
 * "Nested Loop"): two plans that read the same way but join another way are told apart.
 */
export function planDifference(
  before: Pick<PlanFingerprint, "summary" | "plan">,
  after: Pick<PlanFingerprint, "summary" | "plan">,
): { from: string; to: string } {
  if (before.summary !== after.summary) return { from: before.summary, to: after.summary };
  const a = nodesOf(before.plan);
  const b = nodesOf(after.plan);
  const only = (mine: string[], theirs: string[]) => [...new Set(mine.filter((node) => !theirs.includes(node)))].slice(0, 3).join(", ");
  return { from: only(a, b) || before.summary, to: only(b, a) || after.summary };
}
