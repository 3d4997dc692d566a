// Types shared by the client's parts: the connection states, the notification
// shape the design document's applications read, errors, events and options.
/**
 * NotificationServiceError is what the `error` event carries and what connect
 * rejects with. `authentication_failed` means the token was refused (the
 * service fetches a fresh one and retries at once); `network_error` means the
 * server could not be reached or dropped the connection (the service backs off).
 */
export class NotificationServiceError extends Error {
    type;
    /** The WebSocket close code, when the error is a close. */
    code;
    /** The close reason the server gave, when there was one. */
    reason;
    constructor(type, message, init = {}) {
        super(message, init.cause === undefined ? undefined : { cause: init.cause });
        this.name = 'NotificationServiceError';
        this.type = type;
        if (init.code !== undefined)
            this.code = init.code;
        if (init.reason !== undefined)
            this.reason = init.reason;
    }
}
