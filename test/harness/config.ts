/** Switches the configuration mid-file: pools and caches made under the old one are dropped first. */
import { resetAgentCaches } from "../../functions/agents.js";
import { resetCacheStore } from "../../lib/cache/store.js";
import { overrideConfig, type Config } from "../../lib/config.js";
import { closeDbPools } from "../../lib/db/pool.js";
import { resetPlatformMode } from "../../lib/platform/mode.js";

export async function useConfig(values: Record<string, string>): Promise<Config> {
  await closeDbPools(0);
  resetCacheStore();
  resetAgentCaches();
  resetPlatformMode();
  return overrideConfig(values);
}
