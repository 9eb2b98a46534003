// Type declarations of the page side of the service worker (src/bridge.js).
import type { ClientOptions, PeertrackClient, ClientStats } from './index.js';

export type ServedSource = 'peer' | 'origin' | 'cache' | 'network';

/** One answer of the worker: where the bytes came from, and how long it took. */
export interface Served {
  url: string;
  hash: string;
  source: ServedSource;
  /** HTTP status of the worker's response (206 for a Range request). */
  status: number;
  /** Bytes moved from peers or the origin (0 from the cache). */
  bytes: number;
  ms: number;
  /** From the origin: why not from peers ('no-holder', 'unavailable', 'all-failed', 'timeout', 'no-page', 'bad-bytes' ...). */
  why?: string;
}

export interface BridgeOptions {
  /** ws(s):// URL of peertrackd's /v1. */
  tracker: string;
  /** The site's worker script (a module importing sw.js); null: no worker. */
  serviceWorker?: string | null;
  scope?: string;
  /** PeertrackClient options; `url` is `tracker`. */
  client?: Omit<ClientOptions, 'url'>;
  /** How long `ready` waits for the worker to control the page. Default 3000. */
  controlTimeoutMs?: number;
  /** How long a request waits for the tracker connection to open. Default 2000. */
  connectWaitMs?: number;
  /** The worker's cache name (sw.js cacheName). Default 'peertrack-v1'. */
  cacheName?: string;
}

export interface BridgeStats {
  /** This tab holds the tracker connection. */
  leader: boolean;
  controlled: boolean;
  /** The client's stats in the leading tab (null elsewhere, or without WebRTC). */
  client: ClientStats | null;
  served: Record<ServedSource, number>;
  bytes: { peer: number; origin: number };
  /** Peers the client caught sending bytes that fail their hash (dropped, reported). */
  badPeers: { peer: string; hash: string }[];
  /** By URL: the latest answer of the worker, with how many there were. */
  resources: Record<string, Served & { count: number }>;
}

export class PeertrackBridge extends EventTarget {
  constructor(options: BridgeOptions);
  /** Resolves once the worker controls the page, or it is clear it will not: load assets then. */
  readonly ready: Promise<{ controlled: boolean; reason: string }>;
  readonly leader: boolean;
  readonly controlled: boolean;
  /** Owned by the bridge; present in the leading tab when WebRTC exists. */
  readonly client: PeertrackClient | null;
  stats(): BridgeStats;
  close(): void;
  // events: 'served' (CustomEvent<Served>), 'leader' (CustomEvent<{leader: boolean}>),
  // 'badpeer' (CustomEvent<{peer: string, hash: string}>), 'change'
}

export function startPeertrack(options: BridgeOptions): PeertrackBridge;
