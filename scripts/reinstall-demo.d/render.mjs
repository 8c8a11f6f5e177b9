// render.mjs TEMPLATES_DIR OUT_DIR CONTEXT_JSON : renders the preseed and every file under
// TEMPLATES_DIR/files the way fleetboot does (src/install/render.ts: nunjucks, autoescape off,
// trimBlocks, lstripBlocks) for SERVER=reference runs of scripts/reinstall-demo.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
const require = createRequire(path.resolve(process.argv[1], '../../../package.json'));
const nunjucks = require('nunjucks');
const [tdir, out, ctxJson] = process.argv.slice(2);
const ctx = JSON.parse(ctxJson);
const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(tdir, { noCache: true }), {
  autoescape: false, throwOnUndefined: false, trimBlocks: true, lstripBlocks: true,
});
fs.mkdirSync(path.join(out, 'files'), { recursive: true });
fs.writeFileSync(path.join(out, 'answer'), env.render(ctx.template, ctx));
for (const f of fs.readdirSync(path.join(tdir, 'files'))) {
  fs.writeFileSync(path.join(out, 'files', f), env.render(`files/${f}`, ctx));
}
