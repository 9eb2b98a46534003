// Type declarations of the peertrack browser client (src/index.js).

export type ClientState = 'idle' | 'connecting' | 'open' | 'offline' | 'closed';

export type FetchErrorCode = 'no-holder' | 'timeout' | 'unavailable' | 'aborted' | 'all-failed';

export class PeertrackError extends Error {
  name: 'PeertrackError';
  /** Stable: one of FetchErrorCode, 'bad-hash', 'closed', 'refused', 'bad-option', or a tracker error code. */
  code: FetchErrorCode | 'bad-hash' | 'closed' | 'refused' | 'bad-option' | string;
  /** 'refused': the WebSocket close code that forbids retrying. */
  closeCode?: number;
  /** 'all-failed': each holder tried and why it failed. */
  attempts?: { peer: string; result: string }[];
  constructor(code: string, message?: string, extra?: object);
}

/** Where seeded bytes live; any method may return a promise. */
export interface Store {
  get(hash: string): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  put(hash: string, bytes: Uint8Array): void | Promise<void>;
  delete(hash: string): void | Promise<void>;
  keys(): string[] | Promise<string[]>;
}

export class MemoryStore implements Store {
  get(hash: string): Uint8Array | undefined;
  put(hash: string, bytes: Uint8Array): void;
  delete(hash: string): void;
  keys(): string[];
}

/** The network-up signal; the default reads navigator.onLine and the online/offline events. */
export interface OnlineSource {
  up(): boolean;
  /** Calls cb(up) on every change; returns the function that stops watching. */
  watch(cb: (up: boolean) => void): () => void;
}

export interface ClientOptions {
  /** The tracker, protocol v1: 'wss://tracker.example/v1'. */
  url: string;
  /** RTCPeerConnections at once, fetching and serving (default 8). */
  maxPeerConnections?: number;
  /** Offer sent -> answer received (default 5000). */
  offerTimeoutMs?: number;
  /** Answer -> ICE connected (default 5000). */
  iceTimeoutMs?: number;
  /** ICE connected -> data channel open (default 5000). */
  channelOpenTimeoutMs?: number;
  /** No chunk for this long: the holder is dead, try the next (default 3000). */
  stallTimeoutMs?: number;
  /** A connection to a holder with no request for this long is closed (default 5000); requests to one holder share it. */
  linkIdleMs?: number;
  /** The whole budget of one fetchFromPeers (default 20000). */
  fetchTimeoutMs?: number;
  /** Holders asked for per lookup (default 5; the tracker caps it too). */
  maxHolders?: number;
  /** Offload `report` period while there is something to report (default 30000; 0: only on close). */
  reportIntervalMs?: number;
  /** A served session with no request for this long is closed (default 30000). */
  serveIdleMs?: number;
  /** Serving pauses at this many buffered bytes (default 1 MiB)... */
  highWater?: number;
  /** ...and resumes below this (bufferedAmountLowThreshold, default 256 KiB). */
  lowWater?: number;
  /** Silence from the tracker after which the connection is dropped as dead and resumed (default 2 × heartbeat_ms + 1 s). */
  livenessMs?: number;
  /** Keep only the ICE candidates for which it returns true (local and remote, trickled and in SDP). */
  candidateFilter?: (candidate: string) => boolean;
  /** Extra RTCConfiguration fields (iceTransportPolicy ...); iceServers always come from the tracker. */
  rtcConfig?: RTCConfiguration;
  store?: Store;
  online?: OnlineSource;
  WebSocket?: typeof WebSocket;
  RTCPeerConnection?: typeof RTCPeerConnection;
  log?: (line: string) => void;
}

export interface ResourceStats { fromPeers: number; fromOrigin: number; toPeers: number }

export interface ClientStats extends ResourceStats {
  state: ClientState;
  id: string | null;
  /** Live peer connections. */
  peers: number;
  resources: { [hash: string]: ResourceStats };
}

export interface ClientEventMap {
  statechange: CustomEvent<{ state: ClientState; id: string | null }>;
  peers: CustomEvent<{ count: number }>;
  transfer: CustomEvent<{ hash: string; source: 'peer' | 'origin'; bytes: number; peer: string | null }>;
  badpeer: CustomEvent<{ peer: string; hash: string }>;
  error: CustomEvent<{ error: PeertrackError }>;
}

export class PeertrackClient extends EventTarget {
  constructor(options: ClientOptions);
  readonly state: ClientState;
  /** The 24-character id from welcome/resumed, or null. */
  readonly id: string | null;
  /** The tracker's current ice_servers (RTCConfiguration.iceServers). */
  readonly iceServers: RTCIceServer[];
  /** Connect; reconnects, resumes and re-announces by itself until close(). */
  start(): void;
  /** Sends the last report, says goodbye, stops. */
  close(): void;
  /** Verified bytes (their SHA-256 is `hash`), or rejects with a PeertrackError (FetchErrorCode). */
  fetchFromPeers(hash: string, options?: { signal?: AbortSignal; timeoutMs?: number; size?: number }): Promise<Uint8Array>;
  /** Verify (rejects 'bad-hash'), keep in the store, announce, and serve to peers. */
  seed(hash: string, bytes: Uint8Array | ArrayBuffer): Promise<void>;
  unseed(hash: string): void;
  /** Bytes the page got from the origin, for the stats and the tracker's offload `report`. */
  noteOrigin(hash: string, nbytes: number): void;
  stats(): ClientStats;
  addEventListener<K extends keyof ClientEventMap>(type: K, listener: (ev: ClientEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof ClientEventMap>(type: K, listener: (ev: ClientEventMap[K]) => void,
    options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions): void;
}

export const DEFAULTS: Readonly<Required<Pick<ClientOptions, 'maxPeerConnections' | 'offerTimeoutMs' | 'iceTimeoutMs' |
  'channelOpenTimeoutMs' | 'stallTimeoutMs' | 'linkIdleMs' | 'fetchTimeoutMs' | 'maxHolders' | 'reportIntervalMs' | 'serveIdleMs' |
  'highWater' | 'lowWater'>>>;

/** SHA-256 of the bytes as 64 lowercase hex (crypto.subtle). */
export function sha256hex(bytes: BufferSource): Promise<string>;
/** 64 lowercase hex characters? */
export function isHash(h: unknown): h is string;
