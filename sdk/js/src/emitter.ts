/** A small typed event emitter (no dependency on Node's or the DOM's). */
export class Emitter<Events extends { [K in keyof Events]: (...args: never[]) => void }> {
  private handlers = new Map<keyof Events, Set<Events[keyof Events]>>();

  /** Calls `handler` on every `event`; returns a function that removes it. */
  on<K extends keyof Events>(event: K, handler: Events[K]): () => void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
    }
    set.add(handler);
    return () => this.off(event, handler);
  }

  off<K extends keyof Events>(event: K, handler: Events[K]): void {
    this.handlers.get(event)?.delete(handler);
  }

  protected emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    for (const handler of [...(this.handlers.get(event) ?? [])]) {
      try {
        (handler as (...a: Parameters<Events[K]>) => void)(...args);
      } catch (error) {
        // A listener's failure must not break delivery to the others or the connection.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
