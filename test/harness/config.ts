/** Switches the configuration mid-file: pools made under the old one are closed first. */
import { overrideConfig, type Config } from "../../lib/config.js";
import { closeDbPools } from "../../lib/db/pool.js";

export async function useConfig(values: Record<string, string>): Promise<Config> {
  await closeDbPools(0);
  return overrideConfig(values);
}
