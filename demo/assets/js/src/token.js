// Token handling: normalising what getToken returns, and reading a JWT's expiry
// so the service can refresh it before the server closes the socket.
/** fetchToken calls getToken and normalises its answer; it rejects on an empty token. */
export async function fetchToken(getToken, forceRefresh) {
    const res = await getToken({ forceRefresh });
    const token = typeof res === 'string' ? res : res?.token;
    if (typeof token !== 'string' || token === '') {
        throw new Error('getToken returned no token');
    }
    let expiresAt;
    if (typeof res === 'object' && res.expiresAt !== undefined) {
        expiresAt = toMillis(res.expiresAt);
    }
    return { token, expiresAt: expiresAt ?? jwtExpiry(token) };
}
/** toMillis turns an ISO string, a Date or epoch milliseconds into epoch milliseconds. */
export function toMillis(v) {
    const ms = v instanceof Date ? v.getTime() : typeof v === 'number' ? v : Date.parse(v);
    return Number.isFinite(ms) ? ms : undefined;
}
/**
 * jwtExpiry returns the exp claim of a JWT in epoch milliseconds, or undefined
 * when token is not a JWT with a numeric exp. It does not verify anything: the
 * server does; the client only needs to know when to refresh.
 */
export function jwtExpiry(token) {
    const parts = token.split('.');
    if (parts.length !== 3)
        return undefined;
    try {
        const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
        const json = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
        const exp = JSON.parse(json).exp;
        return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
    }
    catch {
        return undefined;
    }
}
