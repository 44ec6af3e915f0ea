/**
 * Turns what a request to the server failed with into one sentence for the user. Pure.
 * The server's own message is kept verbatim: it says what is missing better than we can.
 */
import { ContractsErrorCodes } from '../../server/src/protocol';

/** JSON-RPC / LSP codes we explain (vscode-jsonrpc's ErrorCodes / LSPErrorCodes). */
const METHOD_NOT_FOUND = -32601;
const REQUEST_CANCELLED = -32800;
const SERVER_CANCELLED = -32802;
const PENDING_RESPONSE_REJECTED = -32097; // the connection closed while the request was pending
const CONNECTION_INACTIVE = -32096;

export interface ErrorLike {
  code?: unknown;
  message?: unknown;
}

export function isCancellation(e: unknown): boolean {
  const code = (e as ErrorLike | undefined)?.code;
  return code === REQUEST_CANCELLED || code === SERVER_CANCELLED;
}

/** The connection to the language server closed while the request was pending (the server died or was stopped). */
export function isConnectionLost(e: unknown): boolean {
  const code = ((e ?? {}) as ErrorLike).code;
  return code === PENDING_RESPONSE_REJECTED || code === CONNECTION_INACTIVE;
}

export function describeRequestError(what: string, e: unknown): string {
  const err = (e ?? {}) as ErrorLike;
  const message = typeof err.message === 'string' && err.message ? err.message : String(e);
  switch (err.code) {
    case ContractsErrorCodes.RuntimeUnavailable:
    case ContractsErrorCodes.WorkspaceUntrusted:
      return `${what}: ${message}`;
    case METHOD_NOT_FOUND:
      return `${what}: this version of contracts-language-server does not implement it yet (${message}).`;
    case PENDING_RESPONSE_REJECTED:
    case CONNECTION_INACTIVE:
      return `${what}: the language server stopped before answering. It restarts by itself; try again in a moment.`;
    default:
      return `${what} failed: ${message}`;
  }
}
