// The Allure HTML of a run, generated through Allure 3's own API (as its `generate` and `awesome`
// commands do), with every input that would change from one generation to the next pinned: the
// same results and spec give the same bytes.
//
// What Allure 3.18 takes from outside its results, where no allurerc or CLI option reaches:
//   - the report uuid: `crypto.randomUUID()` in the AllureReport constructor (set after it here);
//   - "Generated at" (`createdAt`, `cacheKey`): `Date.now()` in the awesome plugin;
//   - chart ids (`randomUUID`), chart keys (nanoid: `getRandomValues`), the local CI run id;
//   - the order of the results: files are read several at a time and stored as each read ends;
//   - CI facts: CI environment variables, and `git` run in the current directory.
// The clock and the random sources are pinned below before Allure is loaded, reads go one at a
// time (`ALLURE_READ_CONCURRENCY`), and the caller (harness/reports/html.py) runs this with a
// minimal environment and without a git repository in sight.
//
// Input, as JSON in the first argument:
//   {"allure": "/path/node_modules/allure/package.json", "results": DIR, "name": STR,
//    "reportUuid": STR, "createdAt": EPOCH_MS, "categories": [...],
//    "reports": [{"key": STR, "output": DIR, "singleFile": BOOL}, ...]}
// Exit status 1, with one line per complaint on stderr, when Allure failed or reported any error:
// it logs unreadable results and failed plugins and goes on, which would leave a report short.
import crypto from "node:crypto";
import { createRequire, syncBuiltinESMExports } from "node:module";
import { pathToFileURL } from "node:url";
import { format } from "node:util";

const spec = JSON.parse(process.argv[2]);

let seed = spec.reportUuid;
let draws = 0;
// Every random draw is a digest of the seed and a counter: the same calls in the same order give
// the same values.
const draw = () => crypto.createHash("sha256").update(`${seed}/${draws++}`).digest();
crypto.randomUUID = () => {
  const hex = draw().toString("hex");
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
};
crypto.webcrypto.getRandomValues = (array) => {
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  for (let at = 0; at < bytes.length; at += 32) {
    bytes.set(draw().subarray(0, bytes.length - at), at);
  }
  return array;
};
Math.random = () => draw().readUInt32BE(0) / 2 ** 32;
syncBuiltinESMExports(); // `import { randomUUID } from "node:crypto"` in Allure's modules sees the pinned one
Date.now = () => spec.createdAt;
process.env.ALLURE_READ_CONCURRENCY = "1";

const complaints = []; // the first line of each: the message, without Node's stack
console.error = (...args) => complaints.push(format(...args).split("\n")[0]);

const allure = createRequire(spec.allure);
const load = async (name) => import(pathToFileURL(allure.resolve(name)).href);
const { AllureReport, resolveConfig } = await load("@allurereport/core");
const { default: AwesomePlugin } = await load("@allurereport/plugin-awesome");

try {
  for (const { key, output, singleFile } of spec.reports) {
    seed = `${spec.reportUuid}/${key}`; // each report draws its own sequence, whichever runs first
    draws = 0;
    const config = await resolveConfig(
      { name: spec.name, categories: spec.categories },
      { output, cwd: process.cwd(), plugins: {} }, // no plugin from any allurerc: only the one below
    );
    const options = { singleFile, groupBy: [], reportLanguage: "en" };
    config.plugins = [{ id: "awesome", enabled: true, options, plugin: new AwesomePlugin(options) }];
    const report = new AllureReport(config);
    report.reportUuid = spec.reportUuid;
    await report.start();
    await report.readDirectory(spec.results);
    await report.done();
  }
} catch (error) {
  complaints.push(String(error?.message ?? error).split("\n")[0]);
}

if (complaints.length > 0) {
  process.stderr.write(`${complaints.join("\n")}\n`);
  process.exitCode = 1;
}
