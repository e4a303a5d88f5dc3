/**
 * Whether `text` is base64url exactly as an encoder writes it: no padding, no stray character,
 * no bit set beyond the data in its last character. Decoders forgive all three, so without this
 * check one token or cursor has several spellings that all verify.
 */
export function isCanonicalBase64url(text: string): boolean {
  return /^[A-Za-z0-9_-]*$/.test(text) && Buffer.from(text, "base64url").toString("base64url") === text;
}
