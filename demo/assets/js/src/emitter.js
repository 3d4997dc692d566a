// A small typed event emitter: listeners per event name, called in the order
// they were added. A listener that throws is reported on the console and does
// not stop the others, so an application bug cannot break the connection.
export class Emitter {
    listeners = new Map();
    on(event, fn) {
        let set = this.listeners.get(event);
        if (!set) {
            set = new Set();
            this.listeners.set(event, set);
        }
        set.add(fn);
    }
    off(event, fn) {
        this.listeners.get(event)?.delete(fn);
    }
    emit(event, ...args) {
        const set = this.listeners.get(event);
        if (!set)
            return;
        for (const fn of [...set]) {
            try {
                fn(...args);
            }
            catch (err) {
                console.error(`herald: a "${String(event)}" listener threw`, err);
            }
        }
    }
}
