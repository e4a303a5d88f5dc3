/** The global setup of the `unit` project: the dashboard's bundle and the compiled scripts (shared with the other projects' setup). */
import type { TestProject } from "vitest/node";
import { dashboardBuilt, scriptsProvided } from "./global-setup.js";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await dashboardBuilt();
  return scriptsProvided(project);
}
