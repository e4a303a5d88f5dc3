/**
 * EXPLAIN ANALYZE of a recorded statement, on demand, with the parameter values the operator
 * types. It runs the statement for real, so it runs only under the rules that keep another
 * role's code from running with the platform's rights (lib/db/inspect/plannable.ts: the
 * platform's own statements, no foreign function, operator, type or relation), as the
 * platform's role, on a connection of its own that is closed afterwards, inside a transaction
 * that is always rolled back, under a statement timeout; a statement that is not a plain
 * SELECT (it writes, locks rows or creates a table) runs only once the operator has confirmed,
 * and a SELECT runs read-only.
 */
import type postgres from "postgres";
import { plannableText, statementCandidate } from "../lib/db/inspect/advice.js";
import { plannability } from "../lib/db/inspect/plannable.js";
import { statementShape } from "../lib/db/inspect/statement-shape.js";
import { statementsAvailability } from "../lib/db/inspect/statements.js";
import { onOwnConnection } from "../lib/db/pool.js";
import { describedError, ErrorWithCode } from "../lib/errors.js";

/** The bound on a statement run by EXPLAIN ANALYZE from the dashboard. */
export const EXPLAIN_TIMEOUT_MS = 10_000;

export type ExplainOutcome = { ran: true; plan: string; readOnly: boolean } | { ran: false; reason: string; needsConfirmation: boolean };

/** The values given do not fit the statement. */
export class ExplainInputError extends ErrorWithCode("BAD_REQUEST") {}

/** Thrown to end the transaction: whatever the statement did is rolled back. */
class RolledBack extends Error {
  constructor(readonly plan: string) {
    super("rolled back");
  }
}

const refused = (reason: string, needsConfirmation = false): ExplainOutcome => ({ ran: false, reason, needsConfirmation });

/** Runs EXPLAIN (ANALYZE, BUFFERS) of the statement with `params` as $1 … $n, or says why not. */
export async function explainStatement(queryId: string, params: readonly string[], { confirmed }: { confirmed: boolean }): Promise<ExplainOutcome> {
  return onOwnConnection(async (own) => {
    let readOnly = true;
    try {
      return await own.begin(async (tx): Promise<ExplainOutcome> => {
        await tx`select set_config('statement_timeout', ${String(EXPLAIN_TIMEOUT_MS)}, true)`;
        const statements = await statementsAvailability(tx);
        if (!statements.available) return refused(`statement statistics unavailable: ${statements.reason}`);
        const candidate = await statementCandidate(tx, statements.schema, queryId);
        if (!candidate) return refused("pg_stat_statements no longer holds this statement (evicted or reset): there is no text to run");
        const verdict = await plannability(tx, candidate.query, candidate.roles);
        if (!verdict.plannable) return refused(verdict.reason.replace(/^not planned/, "not run"));
        const shape = await statementShape(candidate.query);
        if (params.length !== shape.parameters) {
          throw new ExplainInputError(
            `the statement takes ${shape.parameters} parameter${shape.parameters === 1 ? "" : "s"} ($1 … $${shape.parameters}), ${params.length} given`,
          );
        }
        if (shape.kind === "write" && !confirmed) {
          return refused(`${shape.writes ?? "it is not a plain SELECT"}: EXPLAIN ANALYZE runs it for real (then rolls it back); confirm to run it`, true);
        }
        readOnly = shape.kind === "read";
        if (readOnly) await tx`set transaction read only`;
        await tx`select set_config('role', current_user, true)`;
        // The text is the statement pg_stat_statements recorded, judged above: the one text run
        // here that is not a tagged template. The operator's values go as bound parameters (the
        // extended protocol also refuses a second statement), never into the text.
        const rows = await tx.unsafe<Array<{ "QUERY PLAN": string }>>(
          `explain (analyze, buffers, format text) ${plannableText(candidate.query)}`,
          [...params],
          {
            prepare: false,
            simple: false,
          } as postgres.UnsafeQueryOptions,
        );
        throw new RolledBack(rows.map((row) => row["QUERY PLAN"]).join("\n"));
      });
    } catch (error) {
      if (error instanceof RolledBack) return { ran: true, plan: error.plan, readOnly };
      if (error instanceof ExplainInputError) throw error;
      return refused(`EXPLAIN ANALYZE failed and was rolled back: ${describedError(error)}`);
    }
  });
}
