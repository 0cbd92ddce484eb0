// `npm run build:console`: rebuild worker/console/bundle.gen.ts from console/ (see
// scripts/lib/console-bundle.ts). Run it after editing the console; the unit suite fails while
// the committed bundle and the sources disagree.
import { writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { BUNDLE_MODULE, buildConsoleAssets, bundleModule } from "./lib/console-bundle.js";

const a = await buildConsoleAssets();
writeFileSync(BUNDLE_MODULE, bundleModule(a));
const size = (s: string) => `${(s.length / 1024).toFixed(1)} KiB (${(gzipSync(s).length / 1024).toFixed(1)} KiB gzip)`;
console.log(`${BUNDLE_MODULE}\n  ${a.js.path}: ${size(a.js.body)}\n  ${a.css.path}: ${size(a.css.body)}`);
