/** The global setup of the `unit` project: only the dashboard's bundle (shared with the other projects' setup). */
import { dashboardBuilt } from "./global-setup.js";

export default async function setup(): Promise<void> {
  await dashboardBuilt();
}
