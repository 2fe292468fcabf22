/**
 * deploy/k8s/: both overlays render — with `kubectl kustomize` where kubectl is installed
 * (the real Kustomize, and then the subset in test/support/kustomize-lite.ts must render the
 * same objects), else with that subset alone (kustomize is neither a Debian nor an npm
 * package) — every rendered
 * object validates against its strict Kubernetes 1.30 schema (test/fixtures/k8s-schemas/),
 * and the properties an operator relies on hold: non-root, read-only root filesystem, no
 * privilege escalation, every capability dropped, probes on the server's port with
 * readiness on /health, pinned image tags, secrets only from the overlays' env files, and
 * the policy ConfigMap renamed (so the pods roll) when hexarch.yaml changes.
 */

import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import { afterAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  forEachContainer,
  type K8sObject,
  kustomizeBuild,
  podSpec,
} from "../support/kustomize-lite.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const K8S = join(ROOT, "deploy/k8s");
const SCHEMAS = join(ROOT, "test/fixtures/k8s-schemas");

/** secrets.env is git-ignored: render with the committed example in its place. */
const build = (dir: string) => kustomizeBuild(dir, { envFallback: (path) => `${path}.example` });

const SCHEMA_OF: Record<string, string> = {
  "apps/v1/Deployment": "deployment-apps-v1.json",
  "v1/Service": "service-v1.json",
  "v1/ConfigMap": "configmap-v1.json",
  "v1/Secret": "secret-v1.json",
  "v1/ServiceAccount": "serviceaccount-v1.json",
  "v1/PersistentVolumeClaim": "persistentvolumeclaim-v1.json",
  "batch/v1/CronJob": "cronjob-batch-v1.json",
  "policy/v1/PodDisruptionBudget": "poddisruptionbudget-policy-v1.json",
  "autoscaling/v2/HorizontalPodAutoscaler": "horizontalpodautoscaler-autoscaling-v2.json",
  "networking.k8s.io/v1/NetworkPolicy": "networkpolicy-networking-v1.json",
};

const ajv = new Ajv({ allErrors: true, strict: true });
for (const f of readdirSync(SCHEMAS).filter((f) => f.endsWith(".json")))
  ajv.addSchema(JSON.parse(readFileSync(join(SCHEMAS, f), "utf8")));
const validator = (o: K8sObject): ValidateFunction => {
  const file = SCHEMA_OF[`${o.apiVersion}/${o.kind}`];
  if (file === undefined) throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
  const v = ajv.getSchema(`https://k8s-schemas.hexarch.invalid/v1.30.0-minimal-strict/${file}`);
  if (!v) throw new Error(`schema ${file} not loaded`);
  return v;
};

/** True when `kubectl` (with its built-in Kustomize) is on the PATH. */
const hasKubectl = (() => {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

const tmp: string[] = [];
afterAll(() => {
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

/** `kubectl kustomize` of an overlay, in a copy where each secrets.env is its example. */
function kubectlBuild(overlay: string): K8sObject[] {
  const copy = mkdtempSync(join(tmpdir(), "hexarch-k8s-kubectl-"));
  tmp.push(copy);
  cpSync(K8S, copy, { recursive: true });
  for (const o of ["dev", "production"])
    copyFileSync(
      join(copy, "overlays", o, "secrets.env.example"),
      join(copy, "overlays", o, "secrets.env"),
    );
  const out = execFileSync("kubectl", ["kustomize", join(copy, "overlays", overlay)], {
    encoding: "utf8",
  });
  return parseAllDocuments(out).map((d) => d.toJS() as K8sObject);
}

const render = (overlay: string): K8sObject[] =>
  hasKubectl ? kubectlBuild(overlay) : build(join(K8S, "overlays", overlay));

const overlays = { dev: render("dev"), production: render("production") };

/** A value with its object keys sorted, recursively (renderers order keys differently). */
const sortedKeys = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(sortedKeys)
    : typeof v === "object" && v !== null
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, sortedKeys((v as Record<string, unknown>)[k])]),
        )
      : v;

/**
 * Objects by kind and name, keys sorted, Secret values decoded (kustomize wraps long base64
 * in lines), hash suffixes of generated names masked (each renderer computes its own).
 */
const comparable = (objects: K8sObject[]) =>
  JSON.parse(
    JSON.stringify(
      sortedKeys(
        [...objects]
          .sort((a, b) =>
            `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`),
          )
          .map((o) =>
            o.kind === "Secret"
              ? {
                  ...o,
                  data: Object.fromEntries(
                    Object.entries(o.data as Record<string, string>).map(([k, v]) => [
                      k,
                      Buffer.from(v, "base64").toString(),
                    ]),
                  ),
                }
              : o,
          ),
      ),
    ).replace(/(hexarch-(?:env|policy|secrets))-[a-z0-9]{10}\b/g, "$1-HASH"),
  ) as unknown;

describe.skipIf(!hasKubectl)("kustomize-lite, the fallback renderer", () => {
  it.each(["dev", "production"])(
    "renders overlay %s as kubectl kustomize does (but for the hash suffixes)",
    (overlay) => {
      expect(comparable(build(join(K8S, "overlays", overlay)))).toEqual(
        comparable(overlays[overlay as keyof typeof overlays]),
      );
    },
  );
});

const find = (objects: K8sObject[], kind: string, name?: string): K8sObject[] =>
  objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
const one = (objects: K8sObject[], kind: string, name?: string): K8sObject => {
  const found = find(objects, kind, name);
  expect(found, `${kind} ${name ?? ""}`).toHaveLength(1);
  return found[0] as K8sObject;
};
// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are walked as plain data
type Any = any;

describe.each(Object.entries(overlays))("deploy/k8s overlay %s", (name, objects) => {
  it("renders every object the deployment needs", () => {
    const kinds = objects.map((o) => o.kind).sort();
    for (const kind of [
      "ConfigMap",
      "CronJob",
      "Deployment",
      "NetworkPolicy",
      "PersistentVolumeClaim",
      "Secret",
      "Service",
      "ServiceAccount",
    ])
      expect(kinds).toContain(kind);
    expect(find(objects, "CronJob")).toHaveLength(2);
    for (const o of objects)
      expect(o.metadata.namespace).toBe(name === "dev" ? "hexarch-dev" : "hexarch");
  });

  it("validates every rendered object against its strict Kubernetes schema", () => {
    const failures: string[] = [];
    for (const o of objects) {
      const validate = validator(o);
      const valid: boolean = validate(o);
      if (!valid)
        failures.push(
          `${o.kind}/${o.metadata.name}: ${ajv.errorsText(validate.errors, { separator: "; " })}`,
        );
    }
    expect(failures).toEqual([]);
  });

  it("runs every container non-root, read-only, without privilege escalation or capabilities", () => {
    let containers = 0;
    for (const o of objects) {
      const spec = podSpec(o) as Any;
      if (!spec) continue;
      expect(spec.securityContext.runAsNonRoot, o.metadata.name).toBe(true);
      expect(spec.securityContext.runAsUser).toBeGreaterThan(0);
      expect(spec.securityContext.seccompProfile.type).toBe("RuntimeDefault");
      expect(spec.automountServiceAccountToken).toBe(false);
      // The read-only root filesystem needs a writable /tmp.
      expect(spec.volumes.some((v: Any) => v.name === "tmp" && v.emptyDir)).toBe(true);
      forEachContainer(o, (c: Any) => {
        containers++;
        expect(c.securityContext, c.name).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ["ALL"] },
        });
        expect(c.securityContext.privileged).toBeUndefined();
        expect(c.resources.requests.cpu).toBeDefined();
        expect(c.resources.limits.memory).toBeDefined();
        expect(c.volumeMounts.some((m: Any) => m.mountPath === "/tmp")).toBe(true);
        // Pinned images: a tag that is not `latest`, never a bare name.
        expect(c.image).toMatch(/^[a-z0-9./-]+:[A-Za-z0-9._-]+$/);
        expect(c.image).not.toMatch(/:latest$/);
      });
    }
    expect(containers).toBe(4); // api + db-migrate init + two CronJobs
  });

  it("probes the server: ready on /health (503 while a store is down), alive and started on /", () => {
    const deployment = one(objects, "Deployment", "hexarch-api") as Any;
    const api = deployment.spec.template.spec.containers.find((c: Any) => c.name === "api");
    expect(api.readinessProbe.httpGet).toEqual({ path: "/health", port: "http" });
    expect(api.livenessProbe.httpGet).toEqual({ path: "/", port: "http" });
    expect(api.startupProbe.httpGet).toEqual({ path: "/", port: "http" });
    expect(api.ports).toEqual([{ name: "http", containerPort: 8099, protocol: "TCP" }]);
    expect(api.command).toEqual(["hexarch-ctl", "serve", "api"]);
    expect(api.args).toContain("--port=8099");
    expect(api.args).toContain("--host=0.0.0.0");
    const service = one(objects, "Service", "hexarch-api") as Any;
    expect(service.spec.ports[0].targetPort).toBe("http");
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
  });

  it("migrates the schema in an init container before the server starts", () => {
    const spec = one(objects, "Deployment").spec as Any;
    const init = spec.template.spec.initContainers;
    expect(init).toHaveLength(1);
    expect(init[0].command).toEqual(["hexarch-ctl", "db", "migrate"]);
    expect(init[0].envFrom).toEqual(spec.template.spec.containers[0].envFrom);
  });

  it("wires the generated ConfigMaps and Secret by their hashed names", () => {
    const configMaps = find(objects, "ConfigMap");
    expect(configMaps).toHaveLength(2);
    const named = (prefix: string) =>
      configMaps.find((c) => c.metadata.name.startsWith(prefix)) as Any;
    const policy = named("hexarch-policy-");
    expect(policy.metadata.name).toMatch(/^hexarch-policy-[a-z0-9]{10}$/);
    expect(Object.keys(policy.data as object)).toEqual(["hexarch.yaml"]);
    const env = named("hexarch-env-");
    expect(env.data.HEXARCH_REDIS_URL).toMatch(/^redis:\/\//);
    expect(env.data.HEXARCH_POLICY_FILE).toBe("/etc/hexarch/hexarch.yaml");
    const secret = one(objects, "Secret") as Any;
    expect(secret.metadata.name).toMatch(/^hexarch-secrets-[a-z0-9]{10}$/);
    const keys = Object.keys(secret.data).sort();
    expect(keys).toEqual([
      "HEXARCH_API_TOKEN",
      "HEXARCH_AUDIT_HMAC_KEY",
      "HEXARCH_AUDIT_HMAC_KEY_ID",
      "HEXARCH_PG_URL",
    ]);
    expect(Buffer.from(secret.data.HEXARCH_PG_URL, "base64").toString()).toMatch(/^postgres:\/\//);
    for (const o of objects) {
      const spec = podSpec(o) as Any;
      if (!spec) continue;
      forEachContainer(o, (c: Any) => {
        const refs = c.envFrom.map((e: Any) => e.configMapRef?.name ?? e.secretRef?.name);
        expect(refs).toEqual([env.metadata.name, secret.metadata.name]);
      });
      const policyVolume = spec.volumes.find((v: Any) => v.configMap);
      if (policyVolume) expect(policyVolume.configMap.name).toBe(policy.metadata.name);
    }
  });

  it("runs retention by severity and signed checkpoints as CronJobs", () => {
    const retention = one(objects, "CronJob", "hexarch-audit-retention") as Any;
    const cleanup = retention.spec.jobTemplate.spec.template.spec.containers[0];
    expect([...cleanup.command, ...cleanup.args]).toEqual([
      "hexarch-ctl",
      "audit",
      "cleanup",
      "--allowed",
      "30",
      "--warned",
      "90",
      "--blocked",
      "365",
    ]);
    expect(retention.spec.concurrencyPolicy).toBe("Forbid");
    const checkpoint = one(objects, "CronJob", "hexarch-audit-checkpoint") as Any;
    const pod = checkpoint.spec.jobTemplate.spec.template.spec;
    expect(pod.containers[0].command).toEqual(["hexarch-ctl", "audit", "checkpoint"]);
    expect(pod.containers[0].args[0]).toMatch(
      /^--checkpoint-file=\/var\/lib\/hexarch\/checkpoints\//,
    );
    expect(
      pod.volumes.find((v: Any) => v.name === "checkpoints").persistentVolumeClaim.claimName,
    ).toBe("hexarch-checkpoints");
  });

  it("lets only labelled clients in and only DNS, Redis and PostgreSQL out", () => {
    const np = one(objects, "NetworkPolicy") as Any;
    expect(np.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(np.spec.ingress[0].ports).toEqual([{ port: 8099, protocol: "TCP" }]);
    const egressPorts = np.spec.egress.flatMap((e: Any) => e.ports.map((p: Any) => p.port)).sort();
    expect(egressPorts).toEqual([53, 53, 5432, 6379]);
  });
});

describe("deploy/k8s overlays differ where they should", () => {
  it("dev runs one replica without an autoscaler; production three, autoscaled, with a disruption budget", () => {
    expect((one(overlays.dev, "Deployment").spec as Any).replicas).toBe(1);
    expect(find(overlays.dev, "HorizontalPodAutoscaler")).toEqual([]);
    expect(find(overlays.dev, "PodDisruptionBudget")).toEqual([]);
    const prod = one(overlays.production, "Deployment").spec as Any;
    expect(prod.replicas).toBe(3);
    const api = prod.template.spec.containers.find((c: Any) => c.name === "api");
    expect(api.resources.limits).toEqual({ cpu: "2", memory: "768Mi" });
    // The patch merged into the container: its probes and security context are still there.
    expect(api.readinessProbe.httpGet.path).toBe("/health");
    expect(api.securityContext.readOnlyRootFilesystem).toBe(true);
    const hpa = one(overlays.production, "HorizontalPodAutoscaler") as Any;
    expect(hpa.spec.minReplicas).toBe(3);
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: "hexarch-api",
    });
    const pdb = one(overlays.production, "PodDisruptionBudget") as Any;
    expect(pdb.spec.selector.matchLabels).toEqual(prod.selector.matchLabels);
  });

  it("renames the policy ConfigMap when hexarch.yaml changes, so the Deployment rolls", () => {
    const copy = mkdtempSync(join(tmpdir(), "hexarch-k8s-"));
    tmp.push(copy);
    cpSync(K8S, copy, { recursive: true });
    const before = build(join(copy, "overlays/production"));
    writeFileSync(
      join(copy, "base/hexarch.yaml"),
      `${readFileSync(join(copy, "base/hexarch.yaml"), "utf8")}\n# changed\n`,
    );
    const after = build(join(copy, "overlays/production"));
    const policyName = (objects: K8sObject[]) =>
      (podSpec(one(objects, "Deployment")) as Any).volumes.find((v: Any) => v.name === "policy")
        .configMap.name as string;
    expect(policyName(before)).toMatch(/^hexarch-policy-/);
    expect(policyName(after)).not.toBe(policyName(before));
  });

  it("keeps real secrets out of git: secrets.env is ignored, the examples are committed", () => {
    const ignore = readFileSync(join(K8S, ".gitignore"), "utf8");
    expect(ignore).toMatch(/^\*\*\/secrets\.env$/m);
    for (const o of ["dev", "production"])
      expect(readFileSync(join(K8S, "overlays", o, "secrets.env.example"), "utf8")).toMatch(
        /^HEXARCH_API_TOKEN=change-me/m,
      );
  });

  it("rejects what the strict schemas forbid (a misspelled field fails)", () => {
    const bad = structuredClone(one(overlays.dev, "Deployment")) as Any;
    bad.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    const validate = validator(bad);
    expect(validate(bad)).toBe(false);
    expect(ajv.errorsText(validate.errors)).toMatch(/additional properties/);
  });
});
