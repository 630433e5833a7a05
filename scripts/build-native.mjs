#!/usr/bin/env node
// Builds the native addon (binding.gyp → build/Release/wanbraid_native.node) with node-gyp, offline:
// node-gyp is told where the running node's headers are instead of downloading them. The headers
// are looked for, in order, in $npm_config_nodedir (npm's `nodedir` setting), then next to the
// node binary (<prefix>/include/node, e.g. /usr/include/node from Debian's nodejs and
// /usr/local/include/node from nodejs.org tarballs). Without either, node-gyp falls back to its own
// default (a download), and says so if that fails.
// Usage: node scripts/build-native.mjs   (run by `npm run build`)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

function hasHeaders(dir) {
  return Boolean(dir) && existsSync(join(dir, 'include', 'node', 'node_api.h')) && existsSync(join(dir, 'include', 'node', 'common.gypi'));
}

const candidates = [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..')];
const nodedir = candidates.find(hasHeaders);

// The project's own node-gyp (a devDependency), so the build does not depend on what npm bundles.
const gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
const args = [gyp, 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
console.error(`build-native: node-gyp rebuild ${nodedir ? `with headers from ${nodedir}/include/node` : '(no local Node headers found; node-gyp will try to download them)'}`);
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (r.error) {
  console.error(`build-native: could not run node-gyp: ${r.error.message}`);
  process.exit(1);
}
process.exit(r.status ?? 1);
