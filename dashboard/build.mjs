// Builds the dashboard into src/skysep/service/static/dashboard/ (committed, so that a
// wheel carries it). `node build.mjs --check` builds into a temporary folder and fails
// when the committed bundle differs from a fresh build.
import { cp, mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const target = resolve(here, "../src/skysep/service/static/dashboard");
// Natural Earth 1:50m land and borders (public domain), as TopoJSON from world-atlas.
const BASEMAP = "node_modules/world-atlas/countries-50m.json";

async function build(outdir) {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  await esbuild.build({
    absWorkingDir: here,
    entryPoints: { app: "src/app.js" },
    bundle: true,
    minify: true,
    format: "iife",
    target: ["es2020", "chrome100", "firefox100", "safari15"],
    outdir,
    loader: { ".png": "dataurl", ".svg": "dataurl" },
    legalComments: "eof",
    charset: "utf8",
    logLevel: "warning",
  });
  await cp(join(here, "src/index.html"), join(outdir, "index.html"));
  await cp(join(here, BASEMAP), join(outdir, "countries-50m.json"));
  await cp(join(here, "NOTICE.md"), join(outdir, "NOTICE.md"));
}

async function files(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(relative(dir, join(entry.parentPath ?? entry.path, entry.name)));
  }
  return out.sort();
}

async function check() {
  const fresh = await mkdtemp(join(tmpdir(), "skysep-dashboard-"));
  try {
    await build(fresh);
    const want = await files(fresh);
    const have = await files(target).catch(() => []);
    const problems = [];
    for (const name of want) {
      if (!have.includes(name)) problems.push(`missing: ${name}`);
      else if (!(await readFile(join(fresh, name))).equals(await readFile(join(target, name)))) {
        problems.push(`differs from a fresh build: ${name}`);
      }
    }
    for (const name of have) if (!want.includes(name)) problems.push(`not built: ${name}`);
    if (problems.length) {
      console.error(
        `the committed dashboard in ${relative(process.cwd(), target)} is stale:\n  ` +
          problems.join("\n  ") +
          "\nrebuild it: make dashboard (npm ci && npm run build in dashboard/)",
      );
      process.exit(1);
    }
    console.log(`dashboard bundle up to date (${want.length} files)`);
  } finally {
    await rm(fresh, { recursive: true, force: true });
  }
}

if (process.argv.includes("--check")) {
  await check();
} else {
  await build(target);
  console.log(`dashboard built into ${relative(process.cwd(), target)}`);
}
