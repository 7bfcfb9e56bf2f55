import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { RENDER_QUEUE } from '../src/queue/redis-connection.js';
import { RedisJobQueue } from '../src/queue/redis-queue.js';
import { DEFAULT_CONFIG, validateConfig } from '../src/server/config.js';
import { composeCommand, composeConfig, kustomizeTool, readDockerfile, readKustomization, readManifestFile, variablesTheCodeReads } from './helpers/deploy-files.js';
import { composeSchemaProblems, REPO_ROOT, schemaProblems, type ManifestDoc } from './helpers/manifest-schemas.js';
import { dropPrefix, requireRedis, SHARED_REDIS_URL, uniquePrefix } from './helpers/redis.js';
import { startTestServer } from './helpers/server.js';

const exec = promisify(execFile);
const BASE = 'deploy/kubernetes/base';
const GPU = 'deploy/kubernetes/overlays/gpu';
const image = readDockerfile();
const codeVariables = variablesTheCodeReads();

type Obj = Record<string, any>;
const find = (docs: readonly ManifestDoc[], kind: string, name: string): Obj => {
  const found = docs.find((d) => d.doc.kind === kind && (d.doc.metadata as Obj | undefined)?.name === name)?.doc;
  assert.ok(found, `${kind} ${name} is among the manifests`);
  return found;
};
const containersOf = (workload: Obj): Obj[] => workload.spec.template.spec.containers as Obj[];
const baseDocs = (): ManifestDoc[] => readKustomization(BASE).resources.flatMap((file) => readManifestFile(join(BASE, file)));

test('Dockerfile: Debian base with Node 20 and Debian ffmpeg, no onnx download, non-root, HEALTHCHECK on /ready, the default port, volumes', () => {
  assert.match(image.base, /^node:20-bookworm/);
  assert.ok(image.runs.some((r) => /apt-get install\b.*\bffmpeg\b/s.test(r)), 'the final stage installs Debian ffmpeg');
  assert.ok(image.buildRuns.some((r) => /\bnpm ci\b/.test(r)) && image.buildRuns.some((r) => /npm prune --omit=dev/.test(r)), 'npm ci, then dev dependencies pruned');
  assert.match(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'), /ARG ONNXRUNTIME_NODE_INSTALL=skip/);
  assert.ok(image.user && !/^(root|0)(:|$)/.test(image.user), `USER ${image.user} is not root`);
  assert.match(image.user, /^\d+:\d+$/, 'a numeric user, as runAsNonRoot requires');
  assert.deepEqual(image.exposed, [String(DEFAULT_CONFIG.port)]);
  assert.equal(image.env.AVATAR_PORT, String(DEFAULT_CONFIG.port));
  assert.ok(image.healthcheck?.join(' ').includes('/ready'), 'HEALTHCHECK asks /ready');
  assert.deepEqual([...image.volumes].sort(), [image.env.AVATAR_HOME, image.env.AVATAR_DATA_DIR].sort(), 'the volumes are the avatars and data folders');
  assert.deepEqual([...image.entrypoint, ...image.cmd], ['node', '/app/bin/avatar.js', 'serve']);
  for (const name of Object.keys(image.env).filter((n) => n.startsWith('AVATAR_'))) assert.ok(codeVariables.has(name), `${name} is read by the code`);
  // What COPY takes from the build context exists and is not left out by .dockerignore.
  const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const source of image.contextCopies.filter((s) => s !== '.')) {
    assert.ok(existsSync(join(REPO_ROOT, source)), `COPY ${source} exists`);
    assert.ok(!ignored.includes(source), `.dockerignore keeps ${source}`);
  }
  for (const needed of ['src', 'bin', 'web', 'proto', 'eval', 'package.json', 'tsconfig.json']) assert.ok(!ignored.includes(needed), `.dockerignore keeps ${needed}`);
});

test("the image's HEALTHCHECK command passes against a ready server and fails while it drains or is gone", async () => {
  const [command, ...args] = image.healthcheck!;
  const check = (port: number) => exec(command!, args, { env: { ...process.env, AVATAR_PORT: String(port) }, timeout: 10_000 }).then(() => 0, (e: { code?: number }) => e.code ?? -1);
  const served = await startTestServer();
  const port = Number(new URL(served.url).port);
  try {
    assert.equal(await check(port), 0, 'healthy while ready');
    await served.server.drain();
    assert.equal(await check(port), 1, 'unhealthy while draining (/ready 503)');
  } finally {
    await served.close();
  }
  assert.equal(await check(port), 1, 'unhealthy with nothing listening');
});

test('every Kubernetes manifest is listed in its kustomization and passes the Kubernetes and KEDA schemas', () => {
  const base = readKustomization(BASE);
  const files = readdirSync(join(REPO_ROOT, BASE)).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort();
  assert.deepEqual([...base.resources].sort(), files, 'the base lists every manifest file of its folder');
  assert.deepEqual(schemaProblems(baseDocs()), []);
  const gpu = readKustomization(GPU);
  assert.deepEqual(gpu.resources, ['../../base']);
  const overlayFiles = readdirSync(join(REPO_ROOT, GPU)).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
  assert.deepEqual([...gpu.patches].sort(), overlayFiles.sort(), 'the overlay uses every file of its folder');
  for (const patch of gpu.patches) {
    for (const { doc } of readManifestFile(join(GPU, patch))) find(baseDocs(), String(doc.kind), String((doc.metadata as Obj).name));
  }
});

test('the schema check names what is wrong in a broken manifest', () => {
  const worker = () => structuredClone(find(baseDocs(), 'Deployment', 'avatar-worker'));
  const scaler = () => structuredClone(find(baseDocs(), 'ScaledObject', 'avatar-worker'));
  const problems = (doc: Obj) => schemaProblems([{ source: 'broken.yaml', doc }]).join('\n');
  const misspelt = worker();
  misspelt.spec.template.spec.containers[0].volumeMount = misspelt.spec.template.spec.containers[0].volumeMounts;
  assert.match(problems(misspelt), /volumeMount/);
  const wrongType = worker();
  wrongType.spec.replicas = 'two';
  assert.match(problems(wrongType), /replicas must be integer/);
  const noPort = worker();
  noPort.spec.template.spec.containers[0].livenessProbe = { httpGet: { path: '/health' } };
  assert.match(problems(noPort), /port/);
  const numericTarget = scaler();
  numericTarget.spec.triggers[0].metadata.listLength = 10;
  assert.match(problems(numericTarget), /listLength must be string/);
  const unknownKnob = scaler();
  unknownKnob.spec.cooldown = 300;
  assert.match(problems(unknownKnob), /cooldown/);
  assert.match(problems({ ...worker(), kind: 'Deploymnet' }), /no schema known/);
});

/** What the base must hold together: names, ports, paths, the queue's key, the variables the code reads. */
function checkWiring(docs: readonly ManifestDoc[], namespace: string): void {
  for (const { doc } of docs) assert.equal((doc.metadata as Obj).namespace, namespace, `${String(doc.kind)} is in namespace ${namespace}`);
  const config = find(docs, 'ConfigMap', 'avatar-config').data as Record<string, string>;
  const api = find(docs, 'Deployment', 'avatar-api');
  const worker = find(docs, 'Deployment', 'avatar-worker');
  const redisService = find(docs, 'Service', 'avatar-redis');
  const redisUrl = new URL(config.REDIS_URL!);
  assert.equal(redisUrl.hostname, 'avatar-redis');
  assert.equal(Number(redisUrl.port), redisService.spec.ports[0].port);
  assert.ok(validateConfig({ redis: { url: config.REDIS_URL, prefix: config.AVATAR_REDIS_PREFIX } }).redis, 'the code accepts the queue settings');
  for (const [name, labels] of [['avatar-api', api.spec.template.metadata.labels], ['avatar-redis', find(docs, 'StatefulSet', 'avatar-redis').spec.template.metadata.labels]] as const) {
    const service = find(docs, 'Service', name);
    for (const [k, v] of Object.entries(service.spec.selector as Obj)) assert.equal(labels[k], v, `Service ${name} selects its pods`);
  }
  const apiContainer = containersOf(api)[0]!;
  const http = (apiContainer.ports as Obj[]).find((p) => p.name === find(docs, 'Service', 'avatar-api').spec.ports[0].targetPort);
  assert.equal(http?.containerPort, Number(config.AVATAR_PORT ?? image.env.AVATAR_PORT), 'the Service reaches the port the server listens on');
  assert.equal(apiContainer.readinessProbe.httpGet.path, '/ready');
  assert.equal(apiContainer.livenessProbe.httpGet.path, '/health');
  assert.equal(apiContainer.readinessProbe.httpGet.port, http.name);
  assert.deepEqual(apiContainer.args, ['serve']);
  assert.deepEqual(containersOf(worker)[0]!.args, ['worker']);
  assert.equal(worker.spec.replicas, undefined, 'the ScaledObject alone sets the worker count');
  const claim = find(docs, 'PersistentVolumeClaim', 'avatar-shared');
  assert.ok(claim.spec.accessModes.includes('ReadWriteMany'), 'API and worker pods on any node share the volume');
  for (const workload of [api, worker]) {
    const [container] = containersOf(workload);
    assert.equal(String(workload.spec.template.spec.securityContext.runAsUser), image.user!.split(':')[0], 'runs as the image user');
    assert.ok(container.resources.requests.cpu && container.resources.requests.memory && container.resources.limits.memory, 'requests and limits');
    const paths = (container.volumeMounts as Obj[]).map((m) => m.mountPath).sort();
    assert.deepEqual(paths, [...image.volumes].sort(), 'the shared volume sits on the image VOLUME paths');
    assert.deepEqual([config.AVATAR_HOME, config.AVATAR_DATA_DIR].sort(), paths);
    assert.equal(workload.spec.template.spec.volumes[0].persistentVolumeClaim.claimName, 'avatar-shared');
    for (const ref of container.envFrom as Obj[]) if (ref.configMapRef) find(docs, 'ConfigMap', ref.configMapRef.name);
    for (const name of [...Object.keys(config), ...(container.env as Obj[] ?? []).map((e) => String(e.name))]) assert.ok(codeVariables.has(name), `${name} is read by the code`);
    assert.ok(workload.spec.template.spec.terminationGracePeriodSeconds > Number((container.env as Obj[]).find((e) => e.name === 'AVATAR_SHUTDOWN_GRACE_SECONDS')?.value), 'the kubelet waits for the drain');
  }
  const scaler = find(docs, 'ScaledObject', 'avatar-worker');
  assert.equal(scaler.spec.scaleTargetRef.name, 'avatar-worker');
  const trigger = scaler.spec.triggers[0];
  assert.equal(trigger.type, 'redis');
  assert.equal(trigger.metadata.listName, `${config.AVATAR_REDIS_PREFIX ?? 'avatar'}:${RENDER_QUEUE}:wait`);
  assert.equal(trigger.metadata.address, `avatar-redis.${namespace}.svc:${redisService.spec.ports[0].port}`);
  assert.equal(trigger.metadata.databaseIndex, redisUrl.pathname.replace('/', '') || '0');
  // Seed 001: up above 10 waiting, down below 3, 5 min cooldown (mapping explained in the manifest).
  assert.equal(trigger.metadata.listLength, '10');
  assert.equal(trigger.metadata.activationListLength, '2');
  assert.equal(scaler.spec.cooldownPeriod, 300);
  assert.ok(scaler.spec.minReplicaCount >= 1, 'never zero workers: jobs below the activation value would wait for ever');
  const down = scaler.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown;
  assert.equal(down.stabilizationWindowSeconds, 300);
  assert.deepEqual(down.policies, [{ type: 'Pods', value: 1, periodSeconds: 300 }]);
}

test('kustomize renders the base and the GPU overlay into objects that pass the schemas and fit together', async (t) => {
  const tool = await kustomizeTool();
  if ('missing' in tool) return t.skip(`not rendered: ${tool.missing} (the files themselves are checked above)`);
  const base = await tool.render(BASE);
  assert.deepEqual(schemaProblems(base), []);
  assert.equal(base.length, baseDocs().length);
  checkWiring(base, readKustomization(BASE).namespace!);
  const gpu = await tool.render(GPU);
  assert.deepEqual(schemaProblems(gpu), []);
  checkWiring(gpu, readKustomization(BASE).namespace!);
  const spec = find(gpu, 'Deployment', 'avatar-worker').spec.template.spec;
  const [worker] = spec.containers as Obj[];
  assert.equal(worker!.resources.limits['nvidia.com/gpu'], 1);
  assert.ok(worker!.resources.limits.memory, 'the base limits are kept beside the GPU');
  assert.ok((spec.tolerations as Obj[]).some((x) => x.key === 'nvidia.com/gpu'));
  assert.ok(Object.keys(spec.nodeSelector as Obj).length > 0);
  assert.deepEqual((worker!.env as Obj[]).find((e) => e.name === 'AVATAR_ONNX_PROVIDER'), { name: 'AVATAR_ONNX_PROVIDER', value: 'cuda' });
  assert.equal(containersOf(find(gpu, 'Deployment', 'avatar-api'))[0]!.resources.limits['nvidia.com/gpu'], undefined, 'API pods need no GPU');
});

test("the ScaledObject's list is where the queue keeps its waiting jobs (real Redis)", async () => {
  await requireRedis();
  const listName = String(find(baseDocs(), 'ScaledObject', 'avatar-worker').spec.triggers[0].metadata.listName);
  const configuredPrefix = (find(baseDocs(), 'ConfigMap', 'avatar-config').data as Obj).AVATAR_REDIS_PREFIX as string;
  assert.ok(listName.startsWith(`${configuredPrefix}:`));
  // Same key shape under a prefix of this test's own, so jobs of other deployments are untouched.
  const prefix = uniquePrefix('deploy');
  const queue = await RedisJobQueue.open({ url: SHARED_REDIS_URL, prefix, lockMs: 30_000, attempts: 1, segmentMs: 0 }, 60_000);
  const redis = queue.connection;
  try {
    for (let i = 0; i < 3; i++) await queue.submit({ tenant: 'acme', kind: 'generate', payload: { text: `job ${i}` } });
    const key = `${prefix}:${listName.slice(configuredPrefix.length + 1)}`;
    assert.equal(await redis.type(key), 'list', 'KEDA reads it with LLEN');
    assert.equal(await redis.llen(key), 3);
    assert.equal((await queue.counts()).waiting, 3);
  } finally {
    await queue.close();
    await dropPrefix(SHARED_REDIS_URL, prefix);
  }
});

test('docker compose config: Redis with persistence, API and workers on the same volumes, secrets from the environment', async () => {
  const command = await composeCommand();
  assert.ok(command, 'docker compose or docker-compose is installed (scripts/test-all.sh installs Debian\'s docker-compose)');
  assert.deepEqual(composeSchemaProblems(parseYaml(readFileSync(join(REPO_ROOT, 'compose.yaml'), 'utf8'), { merge: true })), []);
  const missing = await composeConfig(command, { AVATAR_SIGNING_SECRET: 'a-secret' });
  assert.equal(missing.ok, false, 'no API keys: compose refuses');
  if (!missing.ok) assert.match(missing.stderr, /AVATAR_API_KEYS/);
  const secrets = { AVATAR_API_KEYS: 'key-for-tenant-acme-0001:acme', AVATAR_SIGNING_SECRET: 'signing-secret-for-the-test' };
  const result = await composeConfig(command, secrets);
  assert.ok(result.ok, result.ok ? '' : result.stderr);
  const { services, volumes } = result.config;
  assert.deepEqual(Object.keys(services).sort(), ['api', 'redis', 'worker']);
  const { redis, api, worker } = services;
  assert.deepEqual(redis.command.slice(0, 3), ['redis-server', '--appendonly', 'yes']);
  const mounts = (service: Obj) => (service.volumes as (Obj | string)[]).map((v) => (typeof v === 'string' ? v.replace(/:rw$/, '') : `${v.source}:${v.target}`)).sort();
  assert.ok(mounts(redis).some((m) => m.endsWith(':/data') && m.split(':')[0]! in volumes), 'Redis keeps its append-only file on a named volume');
  assert.deepEqual(mounts(api), mounts(worker), 'API and workers see the same files');
  assert.deepEqual(mounts(api).map((m) => m.split(':')[1]).sort(), [...image.volumes].sort(), 'volumes on the image VOLUME paths');
  assert.ok(mounts(api).every((m) => m.split(':')[0]! in volumes));
  assert.ok(worker.deploy.replicas >= 2, 'several workers');
  for (const service of [api, worker]) {
    assert.equal(new URL(service.environment.REDIS_URL).hostname, 'redis');
    for (const name of Object.keys(service.environment)) assert.ok(codeVariables.has(name), `${name} is read by the code`);
  }
  assert.equal(api.environment.AVATAR_SIGNING_SECRET, secrets.AVATAR_SIGNING_SECRET);
  assert.equal(api.environment.AVATAR_API_KEYS, secrets.AVATAR_API_KEYS);
  assert.ok(validateConfig({ apiKeys: secrets.AVATAR_API_KEYS.split(',').map((p) => ({ key: p.split(':')[0], tenant: p.split(':')[1] })) }).apiKeys.length === 1);
  assert.equal(Number(api.ports[0].target), Number(image.exposed[0]));
  assert.deepEqual(api.command, ['serve']);
  assert.deepEqual(worker.command, ['worker']);
  assert.ok(worker.healthcheck.disable === true || worker.healthcheck.test?.[0] === 'NONE', 'workers serve no HTTP: no /ready check');
});
