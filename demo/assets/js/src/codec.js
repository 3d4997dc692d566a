// Codec turns the client's messages into WebSocket frames and the server's
// frames back into messages. JSON text is the design document's encoding and
// the default; with the herald.msgpack subprotocol the same messages travel as
// MessagePack binary frames, which are smaller for large payloads. The
// MessagePack library is imported only when a service asks for it, so an
// application that stays on JSON never loads it.
/** The subprotocols Herald understands (docs/protocol.md, Encodings). */
export const MSGPACK_PROTOCOL = 'herald.msgpack';
export const JSON_PROTOCOL = 'herald.json';
let loading = null;
// loadMsgpack imports the library once. When it cannot be loaded (a bundler
// left it out, the network dropped the module) the service keeps working on
// JSON and says so once on the console, and the next connection tries again.
function loadMsgpack() {
    loading ??= import('../vendor/msgpack/index.mjs').then((m) => m, (err) => {
        loading = null;
        console.warn('herald: could not load @msgpack/msgpack; using JSON', err);
        return null;
    });
    return loading;
}
/** loadCodec returns the codec for encoding, importing the MessagePack library when it is needed. */
export async function loadCodec(encoding) {
    return new Codec(encoding === 'msgpack' ? await loadMsgpack() : null);
}
export class Codec {
    mp;
    constructor(mp) {
        this.mp = mp;
    }
    /**
     * protocols is what a new socket asks for in Sec-WebSocket-Protocol:
     * nothing for JSON, as in the design document; for MessagePack herald.json
     * comes second, so a server that does not offer MessagePack can still
     * accept the connection with JSON.
     */
    get protocols() {
        return this.mp ? [MSGPACK_PROTOCOL, JSON_PROTOCOL] : undefined;
    }
    /** binary reports whether a socket that negotiated protocol carries MessagePack. */
    binary(protocol) {
        return this.mp !== null && protocol === MSGPACK_PROTOCOL;
    }
    /** encode makes the frame for msg: MessagePack when binary, JSON text otherwise. */
    encode(msg, binary) {
        return binary && this.mp ? this.mp.encode(msg) : JSON.stringify(msg);
    }
    /**
     * decode reads one frame: text as JSON, binary as MessagePack (the server
     * may send either on a MessagePack socket). It returns undefined for
     * anything that is not an object with a string type.
     */
    decode(data) {
        let v;
        try {
            if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
                if (!this.mp)
                    return undefined;
                v = this.mp.decode(data);
            }
            else {
                v = JSON.parse(typeof data === 'string' ? data : String(data));
            }
        }
        catch {
            // not a message: Herald never sends that
            return undefined;
        }
        if (typeof v === 'object' && v !== null && !Array.isArray(v) && typeof v.type === 'string') {
            return v;
        }
        return undefined;
    }
}
