/**
 * `npm run build`: bundles the dashboard (dashboard/src, uPlot included) into
 * public/dashboard/app.js and app.css, minified, for Vercel to serve with the functions and
 * `npm start` to serve locally. Nothing is fetched from a CDN: the page works offline and
 * under its strict Content-Security-Policy.
 */
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

export interface DashboardBuild {
  /** Bytes of each file written, by path relative to the project. */
  files: Record<string, number>;
}

export async function buildDashboard(): Promise<DashboardBuild> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { app: "dashboard/src/main.ts" },
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2022",
    outdir: "public/dashboard",
    metafile: true,
    legalComments: "eof",
    logLevel: "warning",
  });
  return { files: Object.fromEntries(Object.entries(result.metafile.outputs).map(([file, output]) => [file, output.bytes])) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { files } = await buildDashboard();
  for (const [file, bytes] of Object.entries(files)) console.log(`${file}  ${(bytes / 1024).toFixed(1)} kB`);
}
