/**
 * `npm run docs:errors`: writes docs/errors.md from the error catalogue
 * (`functions/domain/error-catalogue.ts`). `--check` only compares, and exits 1 when it differs.
 */
import { readFile, writeFile } from "node:fs/promises";
import { renderErrorCatalogueMarkdown } from "../../functions/domain/error-catalogue.ts";

const file = new URL("../../docs/errors.md", import.meta.url);
const rendered = renderErrorCatalogueMarkdown();
if (process.argv.includes("--check")) {
  const current = await readFile(file, "utf8").catch(() => "");
  if (current !== rendered) {
    process.stderr.write("docs/errors.md is out of date: run npm run docs:errors\n");
    process.exit(1);
  }
} else {
  await writeFile(file, rendered);
  process.stdout.write("wrote docs/errors.md\n");
}
