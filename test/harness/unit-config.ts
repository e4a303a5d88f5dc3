/**
 * Before each file of the `unit` project: the configuration of a machine with no database
 * and no cloud services, whatever the developer's shell holds, and a LOCAL_DATA_DIR of the
 * file's own.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { overrideConfig } from "../../lib/config.js";

overrideConfig({
  LOCAL_DATA_DIR: await mkdtemp(path.join(tmpdir(), "gap-unit-local-")),
  DATABASE_URL: "",
  SUPABASE_POOLER_URL: "",
  UPSTASH_REDIS_REST_URL: "",
  UPSTASH_REDIS_REST_TOKEN: "",
  BACKUP_S3_BUCKET: "",
  BACKUP_AGE_RECIPIENTS: "",
  BACKUP_AGE_IDENTITY: "",
  BACKUP_AGE_IDENTITY_FILE: "",
  PUBLIC_URL: "",
});
