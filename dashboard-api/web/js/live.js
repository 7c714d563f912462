// The live-view protocol over one websocket: subscriptions with snapshots and RFC 7386 merge
// patches, gap-free `seq` checks, resubscription after a gap or a dropped socket (with
// backoff), and the connection state the page shows.

/** Applies an RFC 7386 JSON Merge Patch to `target` and returns the result. */
export function mergePatch(target, patch) {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  if (target === null || typeof target !== "object" || Array.isArray(target)) target = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete target[key];
    else target[key] = mergePatch(target[key], value);
  }
  return target;
}

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
// After this many failed attempts in a row the page says "offline" (it keeps trying).
const OFFLINE_AFTER = 3;
const PING_EVERY_MS = 10000;
// No frame at all (not even a pong) for this long: the socket is dead though not closed.
const SILENT_LIMIT_MS = 30000;

/** One websocket carrying every subscription of the page. */
export class Live {
  /**
   * @param {string} token bearer token for `?access_token=`
   * @param {(state: "live"|"reconnecting"|"offline") => void} onState connection changes
   * @param {() => Promise<boolean>} stillSignedIn asked after a failed attempt; false stops
   */
  constructor(token, onState, stillSignedIn) {
    this.token = token;
    this.onState = onState;
    this.stillSignedIn = stillSignedIn;
    this.subs = new Map();
    this.failures = 0;
    this.lastFrameAt = 0;
    this.socket = null;
    this.stopped = false;
    this.timer = setInterval(() => this.heartbeat(), PING_EVERY_MS);
    this.connect();
  }

  /** Subscribes (or re-subscribes with new filters) under `id`; `handler` gets
   * `{data, kind: "snapshot"|"update"|"alert", alert}` and `onError(frame)`. */
  subscribe(id, params, handler) {
    this.subs.set(id, { params, handler, seq: null, data: null });
    this.send({ op: "subscribe", id, ...params });
  }

  /** Ends a subscription; its handler is not called again. */
  unsubscribe(id) {
    if (this.subs.delete(id)) this.send({ op: "unsubscribe", id });
  }

  /** Closes the socket for good (sign-out). */
  stop() {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.socket) this.socket.close();
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  connect() {
    if (this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws?access_token=${encodeURIComponent(this.token)}`);
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.failures = 0;
      this.lastFrameAt = Date.now();
      for (const [id, sub] of this.subs) {
        sub.seq = null;
        this.send({ op: "subscribe", id, ...sub.params });
      }
      this.onState("live");
    };
    socket.onmessage = (event) => {
      this.lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.receive(frame);
    };
    socket.onclose = () => {
      if (this.socket !== socket || this.stopped) return;
      this.socket = null;
      if (!opened) this.failures += 1;
      this.onState(this.failures >= OFFLINE_AFTER ? "offline" : "reconnecting");
      const base = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
      const delay = base / 2 + Math.random() * base / 2;
      setTimeout(async () => {
        // A socket refused for a bad or expired token closes like a dead server does: ask.
        if (this.failures > 0 && !(await this.stillSignedIn())) return;
        this.connect();
      }, delay);
    };
  }

  heartbeat() {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastFrameAt > SILENT_LIMIT_MS) {
      this.socket.close();
      return;
    }
    this.send({ op: "ping" });
  }

  receive(frame) {
    if (frame.type === "pong" || frame.id === undefined) return;
    const sub = this.subs.get(frame.id);
    if (!sub) return;
    if (frame.type === "error") {
      if (sub.handler.onError) sub.handler.onError(frame);
      return;
    }
    if (frame.type === "snapshot") {
      sub.seq = frame.seq;
      sub.data = frame.data;
      sub.handler({ kind: "snapshot", data: sub.data, at: frame.at });
      return;
    }
    // Frames queued before a resubscription's snapshot are ignored; a gap asks for a new one.
    if (sub.seq === null) return;
    if (frame.seq !== sub.seq + 1) {
      sub.seq = null;
      this.send({ op: "subscribe", id: frame.id, ...sub.params });
      return;
    }
    sub.seq = frame.seq;
    if (frame.type === "update") {
      sub.data = mergePatch(sub.data, frame.patch);
      sub.handler({ kind: "update", data: sub.data, at: frame.at });
    } else if (frame.type === "alert") {
      sub.handler({ kind: "alert", data: sub.data, alert: frame.alert });
    }
  }
}
