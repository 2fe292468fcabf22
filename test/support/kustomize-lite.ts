/**
 * The part of `kustomize build` that deploy/k8s/ uses, for rendering the manifests in tests
 * where kubectl (and its built-in Kustomize) is not installed — kustomize is neither a
 * Debian nor an npm package; test/deploy/k8s.test.ts checks this renders what
 * `kubectl kustomize` does wherever kubectl is there:
 * `resources` (files and directories with a kustomization), `namespace`, `labels` (metadata
 * only), `configMapGenerator` (files, literals, envs; `behavior: merge`), `secretGenerator`
 * (envs), content-hash name suffixes with the references to them rewritten (volumes,
 * envFrom, env valueFrom), strategic-merge `patches` by kind and name (maps merged, lists of
 * named items merged by name), and `images` (newName/newTag).
 *
 * The hash suffix is computed as kustomize does it in spirit (SHA-256 of the generated
 * object, ten characters of its hex with some letters swapped) but not byte for byte: the
 * suffixes differ from real kustomize's; what matters here is that changed content renames.
 * Anything else in a kustomization.yaml is an error, so a file using a feature this subset
 * lacks fails loudly rather than rendering wrong.
 */

import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { parseAllDocuments, parse as parseYaml } from "yaml";

/** A rendered Kubernetes object. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
};

/** Options of {@link kustomizeBuild}. */
export interface BuildOptions {
  /**
   * Where an `envs` file of a generator is missing (secrets.env is git-ignored), read this
   * one instead: given the missing path, the file to use (e.g. `${path}.example`).
   */
  readonly envFallback?: (path: string) => string;
}

const KNOWN = new Set([
  "apiVersion",
  "kind",
  "resources",
  "namespace",
  "labels",
  "configMapGenerator",
  "secretGenerator",
  "patches",
  "images",
]);

interface Generator {
  name: string;
  behavior?: "create" | "merge" | "replace";
  files?: string[];
  literals?: string[];
  envs?: string[];
}

interface Generated {
  kind: "ConfigMap" | "Secret";
  name: string;
  data: Record<string, string>;
  labels?: Record<string, string>;
  namespace?: string;
}

/** Renders the kustomization in `dir` (as `kustomize build dir` would, for the subset above). */
export function kustomizeBuild(dir: string, options: BuildOptions = {}): K8sObject[] {
  const { objects, generated } = build(resolve(dir), options);
  // Generated objects get their content-hash suffix; references to them follow.
  const renames = new Map<string, string>();
  const out = [...objects];
  for (const g of generated.values()) {
    const data =
      g.kind === "Secret"
        ? Object.fromEntries(
            Object.entries(g.data).map(([k, v]) => [k, Buffer.from(v).toString("base64")]),
          )
        : g.data;
    const hashed = `${g.name}-${nameHash(g.kind, g.name, data)}`;
    renames.set(`${g.kind}/${g.name}`, hashed);
    out.push({
      apiVersion: "v1",
      kind: g.kind,
      metadata: {
        name: hashed,
        ...(g.namespace !== undefined && { namespace: g.namespace }),
        ...(g.labels !== undefined && { labels: g.labels }),
      },
      ...(g.kind === "Secret" && { type: "Opaque" }),
      data,
    });
  }
  for (const o of out) rewriteRefs(o, renames);
  return out;
}

interface BuildResult {
  objects: K8sObject[];
  generated: Map<string, Generated>;
}

function build(dir: string, options: BuildOptions): BuildResult {
  const file = join(dir, "kustomization.yaml");
  const k = parseYaml(readFileSync(file, "utf8")) as Record<string, unknown>;
  for (const key of Object.keys(k))
    if (!KNOWN.has(key)) throw new Error(`${file}: kustomize-lite does not support "${key}"`);
  const objects: K8sObject[] = [];
  const generated = new Map<string, Generated>();
  for (const r of (k.resources as string[] | undefined) ?? []) {
    const path = resolve(dir, r);
    if (statSync(path).isDirectory()) {
      const sub = build(path, options);
      objects.push(...sub.objects);
      for (const [key, g] of sub.generated) generated.set(key, g);
    } else
      for (const doc of parseAllDocuments(readFileSync(path, "utf8"))) {
        if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]?.message}`);
        const o = doc.toJS() as K8sObject | null;
        if (o) objects.push(o);
      }
  }
  for (const [kind, list] of [
    ["ConfigMap", k.configMapGenerator],
    ["Secret", k.secretGenerator],
  ] as const) {
    for (const g of (list as Generator[] | undefined) ?? []) {
      const data = generatorData(dir, g, options);
      const key = `${kind}/${g.name}`;
      const existing = generated.get(key);
      if (g.behavior === "merge") {
        if (!existing) throw new Error(`${file}: merge into ${key}, which no base generates`);
        Object.assign(existing.data, data);
      } else if (existing && g.behavior !== "replace")
        throw new Error(`${file}: ${key} is generated twice (use behavior: merge or replace)`);
      else generated.set(key, { kind, name: g.name, data });
    }
  }
  for (const p of (k.patches as { path: string }[] | undefined) ?? []) {
    const patch = parseYaml(readFileSync(resolve(dir, p.path), "utf8")) as K8sObject;
    const target = objects.find(
      (o) => o.kind === patch.kind && o.metadata.name === patch.metadata.name,
    );
    if (!target) throw new Error(`${file}: patch ${p.path} matches no ${patch.kind}`);
    strategicMerge(target, patch);
  }
  for (const img of (k.images as { name: string; newName?: string; newTag?: string }[]) ?? [])
    for (const o of objects) forEachContainer(o, (c) => setImage(c, img));
  const labels = (k.labels as { pairs: Record<string, string> }[] | undefined) ?? [];
  for (const o of objects) {
    for (const l of labels) o.metadata.labels = { ...o.metadata.labels, ...l.pairs };
    if (typeof k.namespace === "string") o.metadata.namespace = k.namespace;
  }
  for (const g of generated.values()) {
    for (const l of labels) g.labels = { ...g.labels, ...l.pairs };
    if (typeof k.namespace === "string") g.namespace = k.namespace;
  }
  return { objects, generated };
}

function generatorData(dir: string, g: Generator, options: BuildOptions): Record<string, string> {
  const data: Record<string, string> = {};
  for (const f of g.files ?? []) data[basename(f)] = readFileSync(resolve(dir, f), "utf8");
  for (const l of g.literals ?? []) {
    const eq = l.indexOf("=");
    data[l.slice(0, eq)] = l.slice(eq + 1);
  }
  for (const e of g.envs ?? []) {
    let path = resolve(dir, e);
    if (!existsSync(path) && options.envFallback) path = options.envFallback(path);
    for (const line of readFileSync(path, "utf8").split("\n")) {
      const t = line.trim();
      if (t === "" || t.startsWith("#")) continue;
      const eq = t.indexOf("=");
      if (eq < 1) throw new Error(`${path}: not KEY=VALUE: ${t}`);
      data[t.slice(0, eq)] = t.slice(eq + 1);
    }
  }
  return data;
}

/** Ten characters of the object's SHA-256, with kustomize's letter swaps (no vowels). */
function nameHash(kind: string, name: string, data: Record<string, string>): string {
  const sorted = Object.fromEntries(Object.entries(data).sort(([a], [b]) => a.localeCompare(b)));
  const hex = createHash("sha256")
    .update(JSON.stringify({ kind, name, data: sorted }))
    .digest("hex");
  const swap: Record<string, string> = { "0": "g", "1": "h", "3": "k", a: "m", e: "t" };
  return [...hex.slice(0, 10)].map((c) => swap[c] ?? c).join("");
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Strategic merge: maps recursively, lists of `name`d maps by name, anything else replaced. */
function strategicMerge(target: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (isMap(value) && isMap(current)) strategicMerge(current, value);
    else if (
      Array.isArray(value) &&
      Array.isArray(current) &&
      value.every((v) => isMap(v) && typeof v.name === "string")
    ) {
      for (const item of value as Record<string, unknown>[]) {
        const same = (current as Record<string, unknown>[]).find(
          (c) => isMap(c) && c.name === item.name,
        );
        if (same) strategicMerge(same, item);
        else current.push(item);
      }
    } else target[key] = value;
  }
}

/** The pod spec of a Deployment or CronJob (or none). */
export function podSpec(o: K8sObject): Record<string, unknown> | undefined {
  const spec = o.spec as Record<string, unknown> | undefined;
  if (o.kind === "Deployment") return (spec?.template as { spec?: Record<string, unknown> })?.spec;
  if (o.kind === "CronJob")
    return (
      (spec?.jobTemplate as { spec?: { template?: { spec?: Record<string, unknown> } } })?.spec
        ?.template?.spec ?? undefined
    );
  return undefined;
}

/** Each container and init container of an object's pod spec. */
export function forEachContainer(o: K8sObject, f: (c: Record<string, unknown>) => void): void {
  const spec = podSpec(o);
  if (!spec) return;
  for (const key of ["initContainers", "containers"])
    for (const c of (spec[key] as Record<string, unknown>[] | undefined) ?? []) f(c);
}

function setImage(
  c: Record<string, unknown>,
  img: { name: string; newName?: string; newTag?: string },
): void {
  const image = c.image as string;
  const at = image.lastIndexOf(":");
  const name = at > image.lastIndexOf("/") ? image.slice(0, at) : image;
  const tag = at > image.lastIndexOf("/") ? image.slice(at + 1) : undefined;
  if (name !== img.name) return;
  const newTag = img.newTag ?? tag;
  c.image = `${img.newName ?? name}${newTag ? `:${newTag}` : ""}`;
}

/** Points volumes, envFrom and env references of generated objects at their hashed names. */
function rewriteRefs(o: K8sObject, renames: Map<string, string>): void {
  const spec = podSpec(o);
  if (!spec) return;
  const cm = (n: string) => renames.get(`ConfigMap/${n}`) ?? n;
  const secret = (n: string) => renames.get(`Secret/${n}`) ?? n;
  for (const v of (spec.volumes as Record<string, Record<string, string>>[] | undefined) ?? []) {
    if (v.configMap?.name) v.configMap.name = cm(v.configMap.name);
    if (v.secret?.secretName) v.secret.secretName = secret(v.secret.secretName);
  }
  forEachContainer(o, (c) => {
    for (const e of (c.envFrom as Record<string, { name: string }>[] | undefined) ?? []) {
      if (e.configMapRef) e.configMapRef.name = cm(e.configMapRef.name);
      if (e.secretRef) e.secretRef.name = secret(e.secretRef.name);
    }
    for (const e of (c.env as { valueFrom?: Record<string, { name: string }> }[] | undefined) ??
      []) {
      if (e.valueFrom?.configMapKeyRef)
        e.valueFrom.configMapKeyRef.name = cm(e.valueFrom.configMapKeyRef.name);
      if (e.valueFrom?.secretKeyRef)
        e.valueFrom.secretKeyRef.name = secret(e.valueFrom.secretKeyRef.name);
    }
  });
}
