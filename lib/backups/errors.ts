/**
 * Errors of backups, restores and drills, in a module of their own: every function's error
 * mapping imports them, not the tooling. Each says what happened and what to do; none carries
 * a secret (a connection string's password, a signing key, an age identity). Their codes
 * (lib/errors.ts) decide how they are answered.
 */
import { PlatformError } from "../errors.js";

/** A tool a backup needs (pg_dump, pg_restore, zstd) missing, too old, or failing: the message says what to install or set. */
export class BackupToolError extends PlatformError {
  override name = "BackupToolError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("SERVICE_UNAVAILABLE", message, options);
  }
}

/** A drill has nothing to restore: no successful backup here or in the bucket. */
export class DrillError extends PlatformError {
  override name = "DrillError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("SERVICE_UNAVAILABLE", message, options);
  }
}

/** The archive does not match its manifest, or the manifest (or the file given as one) is not one. Nothing was restored. */
export class BackupIntegrityError extends PlatformError {
  override name = "BackupIntegrityError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("BACKUP_REJECTED", message, options);
  }
}

/**
 * The archive cannot be trusted or read: its manifest is unsigned or signed by another key, or
 * it is encrypted to an identity this machine does not have. Nothing was restored.
 */
export class BackupUntrustedError extends PlatformError {
  override name = "BackupUntrustedError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("BACKUP_REJECTED", message, options);
  }
}

/** The restore's target is not one it may write to, or lacks what the archive needs. Nothing was restored. */
export class RestoreRefusedError extends PlatformError {
  override name = "RestoreRefusedError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("RESTORE_REFUSED", message, options);
  }
}

/** The object store refused or could not be reached; the message carries the store's reason. */
export class BackupStoreError extends PlatformError {
  override name = "BackupStoreError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("SERVICE_UNAVAILABLE", message, options);
  }
}

/** No backup matches what was asked for (an id, `latest`, a location). */
export class BackupNotFoundError extends PlatformError {
  override name = "BackupNotFoundError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("SERVICE_UNAVAILABLE", message, options);
  }
}

/** BACKUP_DIR is not a folder only this process's user may write. */
export class UnsafeBackupDirError extends PlatformError {
  override name = "UnsafeBackupDirError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("SERVICE_UNAVAILABLE", message, options);
  }
}
