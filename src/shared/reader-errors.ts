import type { Transport } from './contract';

/**
 * Error replies name their channel (`datasets.import: folder not found`) so logs and scripts can
 * tell calls apart; a person reading the app needs only the problem. This wraps a page's
 * transport so every error message it passes on starts with the problem itself; the channel
 * stays on the error (`ApiError.channel`) for code that wants it.
 */
export function stripChannelPrefix(message: string, channel: string | undefined): string {
  if (channel && message.startsWith(`${channel}: `)) return message.slice(channel.length + 2);
  return message;
}

export function withReaderErrors<T extends Transport>(transport: T): T {
  return {
    ...transport,
    invoke: async (channel, payload) => {
      const envelope = await transport.invoke(channel, payload);
      if (envelope.ok) return envelope;
      const error = envelope.error;
      return { ok: false, error: { ...error, message: stripChannelPrefix(error.message, error.channel ?? channel) } };
    },
  };
}
