import { build } from "esbuild";
const out = await build({ entryPoints: ["node-shim/bin/chime-ha.ts"], bundle: true, platform: "node", format: "esm", target: "node20", outfile: "/tmp/clix/cli.mjs", banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" }, minify: process.argv[2]==="min", metafile: true });
const ins = Object.entries(out.metafile.outputs)[0][1].inputs;
const agg = {};
for (const [k, v] of Object.entries(ins)) { const m = k.match(/node_modules\/((@[^/]+\/)?[^/]+)/); const key = m ? m[1] : k; agg[key] = (agg[key] || 0) + v.bytesInOutput; }
console.log(Object.entries(out.metafile.outputs)[0][1].bytes, Object.entries(agg).sort((a,b)=>b[1]-a[1]).slice(0,15));
