// Reconnection delays: the design document's exponential backoff.
export const DEFAULT_BACKOFF = { initialDelayMs: 1000, maxDelayMs: 30000, jitter: 0 };
/**
 * backoffDelay returns the wait before reconnection attempt `attempt` (from 1):
 * initialDelayMs doubled for each earlier attempt, capped at maxDelayMs. With
 * the defaults that is 1 s, 2 s, 4 s, 8 s, 16 s, then 30 s for every further
 * attempt. random is there so tests can pin the jitter.
 */
export function backoffDelay(attempt, opts = DEFAULT_BACKOFF, random = Math.random) {
    const n = Math.max(1, Math.floor(attempt));
    // 2 ** 40 is far past any cap; bounding the exponent keeps the number finite.
    const base = Math.min(opts.maxDelayMs, opts.initialDelayMs * 2 ** Math.min(n - 1, 40));
    const j = Math.min(Math.max(opts.jitter, 0), 1);
    if (j === 0)
        return base;
    const spread = base * j * (2 * random() - 1);
    return Math.max(0, Math.round(base + spread));
}
