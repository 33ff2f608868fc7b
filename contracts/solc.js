// Standard-JSON solc-js: reads a compiler input on stdin, writes the compiler output on stdout.
// Run from the repository (node contracts/solc.js): it loads the pinned npm solc from
// ../node_modules, or from the directory named by FLAVUM_NODE_MODULES.
const path = require("path");
const modules = process.env.FLAVUM_NODE_MODULES || path.join(__dirname, "..", "node_modules");
const solc = require(path.join(modules, "solc"));

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const output = solc.compile(input);
  process.stdout.write(JSON.stringify({ version: solc.version(), output: JSON.parse(output) }));
});
