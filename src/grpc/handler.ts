import * as grpc from '@grpc/grpc-js';
import { ServiceError } from './proto-loading.js';

/**
 * A unary gRPC handler from an async function: a ServiceError becomes its status code and
 * message; anything else is INTERNAL with its message (no stack), so the process keeps
 * serving other calls whatever one call throws.
 */
export function grpcHandler<Req, Res>(fn: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request, call).then(
      (response) => callback(null, response),
      (e: unknown) => callback(toStatus(e)),
    );
  };
}

/** A thrown value as a gRPC status for the caller. */
export function toStatus(e: unknown): Partial<grpc.StatusObject> {
  if (e instanceof ServiceError) return e.toGrpc();
  return { code: grpc.status.INTERNAL, details: e instanceof Error ? e.message : String(e) };
}
