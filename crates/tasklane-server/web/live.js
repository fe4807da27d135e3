// The page's one WebSocket: joins the rooms the page shows, hands event frames to the page, and
// comes back by itself after any drop, resuming each project room from the last `seq` it saw
// (`join {room, since}`), so nothing committed while it was away is missed.

import { wsTicket } from './api.js';

/** Delays between reconnection attempts grow to this, with jitter so clients do not stampede. */
const MAX_BACKOFF_MS = 8_000;
/** An application ping this often; a socket without an answer this long after it is dead. */
const PING_EVERY_MS = 25_000;
const PONG_WITHIN_MS = 10_000;
/** A join the server could not check (`unavailable`, `rate_limited`) is sent again after this. */
const REJOIN_MS = 2_000;
/** A connection (ticket and handshake) not open by then is given up and tried again. */
const CONNECT_WITHIN_MS = 15_000;

export class Live {
  /**
   * `handlers.event(frame)`: an event frame. `handlers.resync(room)`: the room's events since the
   * last `seq` are gone (or `since` is unknown): reload, then join again. `handlers.state(state)`:
   * `connecting`, `live`, `reconnecting`, `offline` (the browser has no network), `paused` or
   * `off`. `handlers.left(room, reason)`: the server took the socket out of a room.
   * `handlers.error(code)`: any other refusal.
   */
  constructor(handlers) {
    this.handlers = handlers;
    /** room → function answering the `seq` to resume from (null: none). */
    this.rooms = new Map();
    this.socket = null;
    this.state = 'off';
    this.paused = false;
    this.attempt = 0;
    this.timers = {};
    /** Bumped by every close: a connection begun before it is abandoned when its ticket arrives. */
    this.generation = 0;
    // The browser tells before any timer that the network is gone, and when it is back: close
    // the socket at once, and reconnect the moment the network returns, without waiting out the
    // backoff. "Offline" is only a hint (a server on this machine may still answer), so the
    // attempts go on meanwhile.
    window.addEventListener('offline', () => {
      if (this.paused || this.rooms.size === 0) return;
      this.close();
      this.retry();
    });
    window.addEventListener('online', () => {
      if (this.paused || this.rooms.size === 0 || this.socket?.readyState === WebSocket.OPEN) return;
      this.close();
      this.attempt = 0;
      this.start();
    });
  }

  /** Keeps `room` joined, now and after every reconnection. */
  join(room, since = () => null) {
    this.rooms.set(room, since);
    this.send({ type: 'join', data: this.joinData(room) });
    this.start();
  }

  leave(room) {
    if (this.rooms.delete(room)) this.send({ type: 'leave', data: { room } });
  }

  /** Stops live updates until `resume()` (the indicator's button); the socket is closed. */
  pause() {
    this.paused = true;
    this.close();
    this.setState('paused');
  }

  resume() {
    this.paused = false;
    this.attempt = 0;
    this.start();
  }

  /** Closes everything (sign-out). */
  stop() {
    this.rooms.clear();
    this.paused = false;
    this.attempt = 0;
    this.close();
    this.setState('off');
  }

  start() {
    if (this.socket || this.paused || this.rooms.size === 0 || this.timers.retry) return;
    this.connect();
  }

  joinData(room) {
    const since = this.rooms.get(room)?.();
    return since === null || since === undefined ? { room } : { room, since };
  }

  async connect() {
    const generation = ++this.generation;
    this.setState(this.attempt === 0 ? 'connecting' : this.offlineOr('reconnecting'));
    // Held while the ticket is fetched, so that nothing starts a second connection meanwhile.
    this.socket = { pending: true, readyState: -1, close() {} };
    // A ticket request or a handshake that hangs (a network switch the browser did not report)
    // must not leave the page waiting for ever.
    clearTimeout(this.timers.connect);
    this.timers.connect = setTimeout(() => {
      this.close();
      this.retry();
    }, CONNECT_WITHIN_MS);
    let ticket;
    try {
      ticket = await wsTicket();
    } catch {
      if (generation !== this.generation) return;
      clearTimeout(this.timers.connect);
      this.socket = null;
      this.retry();
      return;
    }
    // Closed, paused or signed out while the ticket was on its way: that ticket is not used.
    if (generation !== this.generation || this.paused || this.rooms.size === 0) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}/api/v1/ws?ticket=${ticket}`);
    this.socket = socket;
    socket.onopen = () => {
      clearTimeout(this.timers.connect);
      this.attempt = 0;
      this.joinAll();
      this.setState('live');
      this.heartbeat();
    };
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = () => {
      if (this.socket !== socket) return;
      clearTimeout(this.timers.connect);
      this.socket = null;
      clearTimeout(this.timers.ping);
      clearTimeout(this.timers.pong);
      if (!this.paused && this.rooms.size > 0) this.retry();
    };
  }

  joinAll() {
    for (const room of this.rooms.keys()) this.send({ type: 'join', data: this.joinData(room) });
  }

  offlineOr(state) {
    return navigator.onLine ? state : 'offline';
  }

  retry() {
    this.setState(this.offlineOr('reconnecting'));
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => { this.timers.retry = null; this.start(); }, delay);
  }

  /** Drops the socket at once (its handlers go with it), whatever state it is in. */
  close() {
    this.generation += 1;
    clearTimeout(this.timers.retry);
    clearTimeout(this.timers.ping);
    clearTimeout(this.timers.pong);
    clearTimeout(this.timers.rejoin);
    clearTimeout(this.timers.connect);
    this.timers = {};
    const socket = this.socket;
    this.socket = null;
    if (socket && !socket.pending) {
      socket.onopen = socket.onmessage = socket.onclose = null;
      socket.close(1000);
    }
  }

  heartbeat() {
    clearTimeout(this.timers.ping);
    this.timers.ping = setTimeout(() => {
      this.send({ type: 'ping' });
      // A half-open socket may take long to report its close: give up on it here and now.
      this.timers.pong = setTimeout(() => {
        this.close();
        if (!this.paused && this.rooms.size > 0) this.retry();
      }, PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  send(frame) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  receive(text) {
    let frame;
    try { frame = JSON.parse(text); } catch { return; }
    switch (frame.type) {
      case 'connected':
      case 'joined':
        break;
      case 'pong':
        clearTimeout(this.timers.pong);
        this.heartbeat();
        break;
      case 'left':
        if (frame.data.reason) {
          this.rooms.delete(frame.data.room);
          this.handlers.left?.(frame.data.room, frame.data.reason);
        }
        break;
      case 'error':
        this.refused(frame.data.code);
        break;
      default:
        if (typeof frame.seq === 'number' || frame.data?.project_id) this.handlers.event(frame);
    }
  }

  refused(code) {
    if (code === 'resync_required' || code === 'bad_since') {
      for (const room of this.rooms.keys()) if (room.startsWith('project:')) this.handlers.resync?.(room);
    } else if (code === 'unavailable' || code === 'rate_limited') {
      // The server could not check a join: send the joins again (joining twice is harmless).
      clearTimeout(this.timers.rejoin);
      this.timers.rejoin = setTimeout(() => this.joinAll(), REJOIN_MS * (0.5 + Math.random()));
    } else {
      this.handlers.error?.(code);
    }
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.handlers.state?.(state);
  }
}
