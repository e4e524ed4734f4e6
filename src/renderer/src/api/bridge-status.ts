import { shallowRef } from 'vue';
import type { BridgeStatus, BridgeTransport } from '../../../shared/bridge-client';

/**
 * The browser bridge's socket state, for the status bar and the disconnected banner. Stays
 * null in the Electron window, whose IPC has no socket to lose.
 */
export const bridgeStatus = shallowRef<BridgeStatus | null>(null);

export function watchBridge(transport: BridgeTransport): void {
  bridgeStatus.value = transport.status();
  transport.onStatus((status) => {
    bridgeStatus.value = status;
  });
}
