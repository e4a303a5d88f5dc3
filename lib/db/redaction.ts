/**
 * Statement texts without their constants, by PostgreSQL's own lexer (libpg-query's scanner,
 * the server's scan.l compiled to WebAssembly): pg_stat_statements keeps utility statements
 * verbatim (ALTER ROLE ... PASSWORD '...', CREATE USER MAPPING ... OPTIONS (password '...'),
 * SET ...), and pg_stat_activity shows running statements as sent. Every text the platform
 * stores, shows or exports passes through here: each string constant (quoted, E'', U&'', any
 * dollar-quote tag, bit and hex strings) becomes '***' and each number ***, wherever it stands,
 * comments and quoted identifiers being told apart as the server tells them. A text the lexer
 * cannot scan (cut short at track_activity_query_size, or not SQL) keeps its first keyword only.
 * Placeholders ($1) and comments are kept: they are the statement's shape, not its data.
 */
import { loadModule, scanSync } from "libpg-query";

/** gram.h's token numbers (PostgreSQL 18's grammar, which libpg-query scans with). */
const STRING_CONSTANTS = new Set([261 /* SCONST */, 262 /* USCONST */, 263 /* BCONST */, 264 /* XCONST */]);
const NUMBER_CONSTANTS = new Set([260 /* FCONST */, 266 /* ICONST */]);

let loaded: Promise<void> | undefined;

/** Loads the lexer (once, about 30 ms): before the first redactedStatement. */
export function redactionReady(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

/** What is left of a text that cannot be trusted to scan: its first word, when it is one. */
export function firstKeywordOnly(text: string): string {
  const word = /^\s*([A-Za-z]+)/.exec(text)?.[1];
  return word ? `${word.toUpperCase()} …` : "…";
}

/** `text` with every constant replaced; call after redactionReady. Never throws. */
export function redactedStatement(text: string): string {
  let tokens;
  try {
    tokens = scanSync(text).tokens;
  } catch {
    return firstKeywordOnly(text);
  }
  // Token positions count bytes of the UTF-8 text.
  const bytes = Buffer.from(text, "utf8");
  const parts: Buffer[] = [];
  let at = 0;
  for (const token of tokens) {
    const replacement = STRING_CONSTANTS.has(token.tokenType) ? "'***'" : NUMBER_CONSTANTS.has(token.tokenType) ? "***" : undefined;
    if (replacement === undefined) continue;
    parts.push(bytes.subarray(at, token.start), Buffer.from(replacement));
    at = token.end;
  }
  parts.push(bytes.subarray(at));
  return Buffer.concat(parts).toString("utf8");
}

/** Redacts after loading the lexer: for callers that redact once. */
export async function redacted(text: string): Promise<string> {
  await redactionReady();
  return redactedStatement(text);
}

/** A text as shown: redacted, then cut to `maxChars` (a cut after redaction cannot reopen a literal). */
export function shownStatement(text: string | null, maxChars: number): string {
  return redactedStatement(text ?? "").slice(0, maxChars);
}
