/**
 * deploy/k8s/: both overlays render — with `kubectl kustomize` where kubectl is installed
 * (the real Kustomize, and then the subset in test/support/kustomize-lite.ts must render the
 * same objects), else with that subset alone (kustomize is neither a Debian nor an npm
 * package) — every rendered object validates against the real Kubernetes schema of its
 * apiVersion and kind (the OpenAPI-derived ones of the kubernetes-models package, Kubernetes
 * 1.36; a kind without one fails), with fields the schema does not define rejected as well
 * (kubernetes-models itself lets them through: see schemaProblems), and the properties an operator relies on hold: non-root, read-only root filesystem, no
 * privilege escalation, every capability dropped, probes on the server's port with
 * readiness on /health, pinned image tags, secrets only from the overlays' env files, and
 * the policy ConfigMap renamed (so the pods roll) when hexarch.yaml changes.
 */

import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
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

/** secrets.env is git-ignored: render with the committed example in its place. */
const build = (dir: string) => kustomizeBuild(dir, { envFallback: (path) => `${path}.example` });

/** The kubernetes-models class (with its OpenAPI-derived schema) of each kind rendered. */
const MODELS = new Map<string, K8sModel>(
  [
    Deployment,
    Service,
    ConfigMap,
    Secret,
    ServiceAccount,
    PersistentVolumeClaim,
    CronJob,
    PodDisruptionBudget,
    HorizontalPodAutoscaler,
    NetworkPolicy,
  ].map((m) => [`${m.apiVersion}/${m.kind}`, m as unknown as K8sModel]),
);
interface K8sModel {
  new (data: object): { validate(): void };
  prototype: { validate(): void };
}
const modelOf = (o: K8sObject): K8sModel => {
  const model = MODELS.get(`${o.apiVersion}/${o.kind}`);
  if (model === undefined)
    throw new Error(`no kubernetes-models class for ${o.apiVersion} ${o.kind}`);
  return model;
};

/**
 * `kubectl kustomize` folds long Secret values (base64) into lines; the API server's base64
 * decoder (Go's encoding/base64) skips line breaks, the schema's "byte" format does not.
 */
const unfoldSecretData = (o: K8sObject): K8sObject =>
  o.kind === "Secret" && o.data
    ? {
        ...o,
        data: Object.fromEntries(
          Object.entries(o.data as Record<string, string>).map(([k, v]) => [
            k,
            v.replace(/[\r\n]/g, ""),
          ]),
        ),
      }
    : o;

/**
 * Problems of `o` per its kubernetes-models schema: the schema's own errors (types, enums,
 * required fields), then every field the schema does not know. kubernetes-models' schemas do
 * not set `additionalProperties: false` (the API server prunes or rejects unknown fields), so
 * the second check is ours: the schema is run again on a proxy that records which properties
 * its compiled validator reads — it reads every property it defines — and any field of the
 * object it never read is unknown to Kubernetes (a misspelling such as readOnlyRootFileSystem).
 * A field whose schema constrains nothing might go unread and be reported: a false alarm to
 * look at, never a misspelling let through.
 */
function schemaProblems(o: K8sObject): string[] {
  const model = new (modelOf(o))(unfoldSecretData(o));
  try {
    model.validate();
  } catch (e) {
    return [(e as Error).message];
  }
  const read = new WeakMap<object, Set<string>>();
  const track = (v: unknown): unknown => {
    if (typeof v !== "object" || v === null) return v;
    const keys = read.get(v) ?? new Set<string>();
    read.set(v, keys);
    return new Proxy(v, {
      get(target, key, receiver) {
        if (typeof key === "string") keys.add(key);
        return track(Reflect.get(target, key, receiver));
      },
      has(target, key) {
        if (typeof key === "string") keys.add(key);
        return Reflect.has(target, key);
      },
    });
  };
  // validate() reads the model through `this`: hand it the recording proxy instead.
  modelOf(o).prototype.validate.call(track(model));
  const unknown: string[] = [];
  const walk = (v: unknown, path: string): void => {
    if (typeof v !== "object" || v === null) return;
    const keys = read.get(v);
    for (const [k, child] of Object.entries(v)) {
      if (!Array.isArray(v) && !keys?.has(k)) unknown.push(`${path}/${k}`);
      else walk(child, `${path}/${k}`);
    }
  };
  walk(model, "");
  return unknown.map((p) => `data${p} is not a field of ${o.apiVersion} ${o.kind}`);
}

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

  it("validates every rendered object against its Kubernetes schema, unknown fields rejected", () => {
    const failures = objects.flatMap((o) =>
      schemaProblems(o).map((p) => `${o.kind}/${o.metadata.name}: ${p}`),
    );
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

  it("rejects what the Kubernetes schemas forbid (a misspelled field, a wrong type, an unknown kind)", () => {
    const deployment = one(overlays.dev, "Deployment");
    const misspelled = structuredClone(deployment) as Any;
    misspelled.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    expect(schemaProblems(misspelled)).toEqual([
      "data/spec/template/spec/containers/0/securityContext/readOnlyRootFileSystem is not a field of apps/v1 Deployment",
    ]);
    const misplaced = structuredClone(deployment) as Any;
    misplaced.spec.template.spec.runAsNonRoot = true; // belongs in the pod's securityContext
    expect(schemaProblems(misplaced)).toEqual([
      "data/spec/template/spec/runAsNonRoot is not a field of apps/v1 Deployment",
    ]);
    const cronJob = structuredClone(
      one(overlays.production, "CronJob", "hexarch-audit-checkpoint"),
    ) as Any;
    cronJob.metadata.lables = { tier: "audit" };
    cronJob.spec.jobTemplate.spec.template.spec.containers[0].imagePullPolicyy = "Always";
    expect(schemaProblems(cronJob)).toEqual([
      "data/metadata/lables is not a field of batch/v1 CronJob",
      "data/spec/jobTemplate/spec/template/spec/containers/0/imagePullPolicyy is not a field of batch/v1 CronJob",
    ]);
    const mistyped = structuredClone(deployment) as Any;
    mistyped.spec.replicas = "one";
    expect(schemaProblems(mistyped).join()).toMatch(/data\/spec\/replicas must be integer/);
    expect(() => schemaProblems({ ...deployment, apiVersion: "extensions/v1beta1" })).toThrow(
      /no kubernetes-models class for extensions\/v1beta1 Deployment/,
    );
  });
});
