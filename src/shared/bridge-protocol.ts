/**
 * Messages on the browser bridge's WebSocket (`/api?token=...`). Shared by the server
 * (src/backend/bridge) and the client transport (bridge-client.ts).
 */
import type { Envelope } from './contract';

export const BRIDGE_WS_PATH = '/api';

/** client -> server */
export interface BridgeInvoke {
  type: 'invoke';
  id: number;
  channel: string;
  payload: unknown;
}

/** server -> client */
export type BridgeServerMessage =
  | { type: 'result'; id: number; envelope: Envelope }
  | { type: 'event'; event: string; payload: unknown }
  | { type: 'hello'; version: string };
