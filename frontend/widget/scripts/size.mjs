// Print the built widget's raw and gzipped size; fail above the budget (30 KB gzipped).
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

const BUDGET = 30 * 1024;
const file = fileURLToPath(new URL("../../../backend/static/widget.js", import.meta.url));
let raw;
try {
  raw = readFileSync(file);
} catch {
  console.error(`size: ${file} is missing; run \`npm run build\` first`);
  process.exit(1);
}
const gz = gzipSync(raw, { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`widget.js: ${kb(raw.length)} raw, ${kb(gz)} gzipped (budget ${kb(BUDGET)} gzipped)`);
if (gz > BUDGET) {
  console.error(`size: over budget by ${kb(gz - BUDGET)}`);
  process.exit(1);
}
