// Writes the runtime package.json of the image (run in the Dockerfile's build stage, from
// the project root): the package's own dependencies plus the optional peers the decision
// server loads (Fastify and its plugins, prom-client, the PostgreSQL and Redis drivers),
// each pinned to the version package-lock.json resolved. No devDependencies, no workspaces.
import { readFileSync, writeFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
const serverPeers = Object.keys(pkg.peerDependencies ?? {}).filter(
  (name) =>
    name === "fastify" ||
    name.startsWith("@fastify/") ||
    name === "prom-client" ||
    name === "pg" ||
    name === "redis",
);
const pinned = (name) => {
  const version = lock.packages?.[`node_modules/${name}`]?.version;
  if (version === undefined) throw new Error(`${name} is not in package-lock.json`);
  return version;
};
const dependencies = {};
for (const name of [...Object.keys(pkg.dependencies ?? {}), ...serverPeers])
  dependencies[name] = pinned(name);
const out = {
  name: `${pkg.name}-server`,
  version: pkg.version,
  private: true,
  type: "module",
  description: "the runtime of the hexarch-guardrails decision server image",
  license: pkg.license,
  dependencies,
};
writeFileSync(process.argv[2] ?? "/app/package.json", `${JSON.stringify(out, null, 2)}\n`);
console.log(`runtime dependencies: ${Object.keys(dependencies).join(", ")}`);
