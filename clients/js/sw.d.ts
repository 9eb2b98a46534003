// Type declarations of the service-worker module (src/sw.js): import it from
// the site's own worker script, registered as a module worker.

export interface ServiceWorkerOptions {
  /** The site's manifest (peertrackctl manifest), resolved against the worker script's URL. Default 'peertrack-manifest.json'. */
  manifestUrl?: string;
  /** The Cache API cache holding verified bytes (and re-seeded by bridge.js). Default 'peertrack-v1'. */
  cacheName?: string;
  /** Whole budget of asking the page for a resource from peers; then the origin serves. Default 3000. */
  peerTimeoutMs?: number;
  /** Of that budget, how long to wait for a page to connect its port. Default 1000. */
  pageWaitMs?: number;
  /** Re-read the manifest at most this often. Default 60000. */
  manifestTtlMs?: number;
}

export const SW_DEFAULTS: Readonly<Required<ServiceWorkerOptions>>;

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
