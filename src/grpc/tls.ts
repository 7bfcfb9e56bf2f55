import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { AvatarError } from '../core/errors.js';
import type { ConfigReader } from './config-reader.js';

/** Server TLS files (`tls.*`): certificate and key; with `client_ca_file`, clients must present a certificate it signed. */
export interface ServerTlsConfig {
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile?: string;
}

/** Client TLS files (`inference_server.tls.*`): the CA that signed the server, and an optional client certificate. */
export interface ClientTlsConfig {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  /** Name the server's certificate is checked against, when it differs from the URL's host. */
  readonly serverName?: string;
}

/** Reads `tls` (server side) from a config; undefined when TLS is off. */
export function readServerTls(r: ConfigReader, path: string): ServerTlsConfig | undefined {
  r.known(path, ['cert_file', 'key_file', 'client_ca_file']);
  const certFile = r.path(`${path}.cert_file`);
  const keyFile = r.path(`${path}.key_file`);
  const clientCaFile = r.path(`${path}.client_ca_file`);
  if (!certFile && !keyFile && !clientCaFile) return undefined;
  if (!certFile || !keyFile) {
    r.problems.push(`${path} needs both cert_file and key_file`);
    return undefined;
  }
  return { certFile, keyFile, ...(clientCaFile ? { clientCaFile } : {}) };
}

/** Reads client TLS settings; undefined when the connection is plain. */
export function readClientTls(r: ConfigReader, path: string): ClientTlsConfig | undefined {
  r.known(path, ['ca_file', 'cert_file', 'key_file', 'server_name', 'enabled']);
  const enabled = r.bool(`${path}.enabled`, false);
  const caFile = r.path(`${path}.ca_file`);
  const certFile = r.path(`${path}.cert_file`);
  const keyFile = r.path(`${path}.key_file`);
  const serverName = r.string(`${path}.server_name`, '');
  if (!enabled && !caFile && !certFile && !keyFile) return undefined;
  if (Boolean(certFile) !== Boolean(keyFile)) r.problems.push(`${path}: a client certificate needs both cert_file and key_file`);
  return { ...(caFile ? { caFile } : {}), ...(certFile ? { certFile } : {}), ...(keyFile ? { keyFile } : {}), ...(serverName ? { serverName } : {}) };
}

async function readPem(file: string, what: string): Promise<Buffer> {
  return readFile(file).catch((e: Error) => {
    throw new AvatarError('invalid_input', `cannot read ${what} ${file}: ${e.message}`);
  });
}

/** Server credentials: TLS when configured, else insecure (plain HTTP/2). */
export async function serverCredentials(tls: ServerTlsConfig | undefined): Promise<grpc.ServerCredentials> {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const [cert, key, ca] = await Promise.all([
    readPem(tls.certFile, 'TLS certificate'), readPem(tls.keyFile, 'TLS key'),
    tls.clientCaFile ? readPem(tls.clientCaFile, 'client CA') : Promise.resolve(null),
  ]);
  try {
    return grpc.ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], Boolean(ca));
  } catch (e) {
    throw new AvatarError('invalid_input', `TLS certificate ${tls.certFile} or key ${tls.keyFile} is not usable: ${(e as Error).message}`);
  }
}

/** Channel credentials and options for a client: TLS when configured, else insecure. */
export async function channelCredentials(tls: ClientTlsConfig | undefined): Promise<{ credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions }> {
  if (!tls) return { credentials: grpc.credentials.createInsecure(), options: {} };
  const [ca, cert, key] = await Promise.all([
    tls.caFile ? readPem(tls.caFile, 'CA certificate') : Promise.resolve(null),
    tls.certFile ? readPem(tls.certFile, 'client certificate') : Promise.resolve(null),
    tls.keyFile ? readPem(tls.keyFile, 'client key') : Promise.resolve(null),
  ]);
  return {
    credentials: grpc.credentials.createSsl(ca, key, cert),
    options: tls.serverName ? { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName } : {},
  };
}
