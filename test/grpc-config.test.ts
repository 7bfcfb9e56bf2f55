import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { readFile } from 'node:fs/promises';
import { startCompositingService, type CompositingService } from '../src/grpc/compositing-service.js';
import { startInferenceService, type InferenceService } from '../src/grpc/inference-service.js';
import type { CompositeBatchResponse } from '../src/grpc/proto-loading.js';
import { generateModel } from '../src/render/onnx/model-init.js';
import { compositingConfig, inferenceConfig, seedRequest, TestClient } from './helpers/grpc.js';
import { avatarCli, tempDir } from './helpers/media.js';
import { writeSeedLayoutAvatar } from './helpers/onnx-avatar.js';

const run = promisify(execFile);

describe('gRPC service configuration', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => undefined;

  before(async () => {
    ({ dir, cleanup } = await tempDir('avatar-grpc-config-'));
  });

  after(async () => {
    await cleanup();
  });

  it('a bad YAML config is refused at start with every problem listed, exit 2', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, [
      'server: { port: ":99999", max_message_size_mb: 0 }',
      'inference_server: { url: "no port here", max_retries: -1 }',
      'output: { format: "png", jpeg_quality: 150 }',
      'capacity: { eviction_policy: "fifo" }',
      'models:',
      '  sanders: { num_frames: 523 }',
      'colour: blue',
    ].join('\n'));
    const r = await avatarCli(['serve', '--role', 'compositing', '--config', file], {}, 60_000);
    assert.equal(r.code, 2, r.stderr);
    for (const expected of [
      /server\.port must be a port such as ":50052"/, /server\.max_message_size_mb must be a whole number from 1 to 2000, got 0/,
      /inference_server\.url: "no port here" must be host:port/, /inference_server\.max_retries must be a whole number from 0 to 100, got -1/,
      /output\.format must be one of jpeg, raw, got "png"/, /output\.jpeg_quality must be a whole number from 1 to 100, got 150/,
      /capacity\.eviction_policy must be one of lru, lfu/, /models\.sanders\.background_dir is required/, /unknown key colour/,
    ]) assert.match(r.stderr, expected);
    assert.equal(r.stderr.split('\n')[0], `avatar: compositing config ${file}: 10 problem(s):`);
  });

  it('an unknown role, a missing config file and an inference model without a path are refused', async () => {
    const role = await avatarCli(['serve', '--role', 'gpu'], {}, 60_000);
    assert.equal(role.code, 2);
    assert.match(role.stderr, /--role must be one of all, inference, compositing, got "gpu"/);
    const missing = await avatarCli(['serve', '--role', 'inference', '--config', join(dir, 'nope.yaml')], {}, 60_000);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read config file .*nope\.yaml: no such file/);
    assert.throws(() => inferenceConfig({ models: { a: { preload: 'yes' } }, capacity: { eviction_policy: 'lfu', max_models_per_gpu: 0 } }), (e: Error) =>
      /models\.a\.model_path is required/.test(e.message) && /models\.a\.preload must be true or false/.test(e.message) && /capacity\.max_models_per_gpu must be a whole number from 1/.test(e.message));
  });

  describe('TLS between the services (server and client certificates)', () => {
    let inference: InferenceService | undefined;
    let compositing: CompositingService | undefined;

    after(async () => {
      await compositing?.close();
      await inference?.close();
    });

    it('the compositing service reaches a TLS inference service that requires a client certificate; a plain client is refused', async () => {
      const pki = join(dir, 'pki');
      await run('mkdir', ['-p', pki]);
      const ssl = (...args: string[]) => run('openssl', args, { cwd: pki });
      await ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=test-ca', '-keyout', 'ca.key', '-out', 'ca.crt');
      for (const name of ['server', 'client']) {
        await ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name === 'server' ? 'localhost' : 'compositing'}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
        await writeFile(join(pki, `${name}.ext`), name === 'server' ? 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' : 'extendedKeyUsage=clientAuth\n');
        await ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
      }
      await writeSeedLayoutAvatar(join(dir, 'models', 'anna'), { size: 128, frames: 2, model: generateModel('seed320', 'tiny').bytes });
      inference = await startInferenceService(inferenceConfig({
        server: { port: '127.0.0.1:0' }, models_dir: 'models', tls: { cert_file: 'pki/server.crt', key_file: 'pki/server.key', client_ca_file: 'pki/ca.crt' },
      }, dir));
      assert.match(inference.banner, /TLS\s+on \(client certificates required\)/);
      compositing = await startCompositingService(compositingConfig({
        server: { port: '127.0.0.1:0' }, models_dir: 'models',
        inference_server: { url: `localhost:${inference.port}`, tls: { ca_file: 'pki/ca.crt', cert_file: 'pki/client.crt', key_file: 'pki/client.key' } },
      }, dir));
      const client = new TestClient('compositing', `127.0.0.1:${compositing.port}`);
      try {
        const r = await client.call<CompositeBatchResponse>('InferBatchComposite', seedRequest('anna', 1));
        assert.equal(r.composited_frames.length, 1);
      } finally {
        client.close();
      }
      const plain = new TestClient('inference', `127.0.0.1:${inference.port}`);
      const refused = await plain.error('Health', {}, 5000).finally(() => plain.close());
      assert.equal(refused.code, grpc.status.UNAVAILABLE);
      const ca = await readFile(join(dir, 'pki', 'ca.crt'));
      const noCert = new TestClient('inference', `localhost:${inference.port}`, undefined, grpc.credentials.createSsl(ca));
      const refusedNoCert = await noCert.error('Health', {}, 5000).finally(() => noCert.close());
      assert.equal(refusedNoCert.code, grpc.status.UNAVAILABLE, 'a TLS client without a certificate is refused');
    });
  });
});
