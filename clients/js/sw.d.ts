// Type declarations of the service-worker module (src/sw.js): import it from
// the site's own worker script, registered as a module worker.

export interface ServiceWorkerOptions {
  /** The site's manifest (peertrackctl manifest), resolved against the worker script's URL. Default 'peertrack-manifest.json'. */
  manifestUrl?: string;
  /** The Cache API cache holding verified bytes (and re-seeded by bridge.js). Default 'peertrack-v1'. */
  cacheName?: string;
  /** Whole budget of asking the page for a resource from peers; then the origin serves. Default null: peerSetupMs plus the size at peerMinBytesPerSec. */
  peerTimeoutMs?: number | null;
  /** Without peerTimeoutMs: the part of the budget for the lookup and the WebRTC connection. Default 8000. */
  peerSetupMs?: number;
  /** Without peerTimeoutMs: the slowest transfer rate waited for, in bytes per second. Default 1048576. */
  peerMinBytesPerSec?: number;
  /** Of that budget, how long to wait for a page to connect its port. Default 1000. */
  pageWaitMs?: number;
  /** Re-read the manifest at most this often. Default 60000. */
  manifestTtlMs?: number;
}

export const SW_DEFAULTS: Readonly<Required<ServiceWorkerOptions>>;

/** The budget, in ms, of getting `size` bytes from peers under these options. */
export function peerBudgetMs(options: Required<ServiceWorkerOptions>, size: number): number;

/**
 * Adds the worker's install, activate, message and fetch listeners to `sw`
 * (default: self). GET requests for the manifest's URLs are answered from the
 * cache, peers (through the tab holding the tracker connection) or the origin,
 * always checked against the manifest's SHA-256 and size; Range requests get 206.
 */
export function installPeertrackServiceWorker(
  options?: ServiceWorkerOptions,
  sw?: ServiceWorkerGlobalScope,
): { options: Required<ServiceWorkerOptions>; loadManifest(force?: boolean): Promise<unknown> };
