/**
 * Errors of backups, restores and drills, in a module of their own: every function's error
 * mapping imports them, not the tooling. Each says what happened and what to do; none carries
 * a secret (a connection string's password, a signing key, an age identity). Their codes
 * (lib/errors.ts) decide how they are answered.
 */
import { ErrorWithCode } from "../errors.js";

/** A tool a backup needs (pg_dump, pg_restore, zstd) missing, too old, or failing: the message says what to install or set. */
export class BackupToolError extends ErrorWithCode("SERVICE_UNAVAILABLE") {
  override name = "BackupToolError";
}

/** A drill has nothing to restore: no successful backup here or in the bucket. */
export class DrillError extends ErrorWithCode("SERVICE_UNAVAILABLE") {
  override name = "DrillError";
}

/** The archive does not match its manifest, or the manifest (or the file given as one) is not one. Nothing was restored. */
export class BackupIntegrityError extends ErrorWithCode("BACKUP_REJECTED") {
  override name = "BackupIntegrityError";
}

/**
 * The archive cannot be trusted or read: its manifest is unsigned or signed by another key, or
 * it is encrypted to an identity this machine does not have. Nothing was restored.
 */
export class BackupUntrustedError extends ErrorWithCode("BACKUP_REJECTED") {
  override name = "BackupUntrustedError";
}

/** The restore's target is not one it may write to, or lacks what the archive needs. Nothing was restored. */
export class RestoreRefusedError extends ErrorWithCode("RESTORE_REFUSED") {
  override name = "RestoreRefusedError";
}

/** The object store refused or could not be reached; the message carries the store's reason. */
export class BackupStoreError extends ErrorWithCode("SERVICE_UNAVAILABLE") {
  override name = "BackupStoreError";
}

/** No backup matches what was asked for (an id, `latest`, a location). */
export class BackupNotFoundError extends ErrorWithCode("SERVICE_UNAVAILABLE") {
  override name = "BackupNotFoundError";
}

/** BACKUP_DIR is not a folder only this process's user may write. */
export class UnsafeBackupDirError extends ErrorWithCode("SERVICE_UNAVAILABLE") {
  override name = "UnsafeBackupDirError";
}
