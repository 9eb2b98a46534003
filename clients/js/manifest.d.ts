// Type declarations of the manifest parser (src/manifest.js) and the Range
// helper (src/range.js).

export const MANIFEST_VERSION: 1;

export interface ManifestLimits {
  maxEntries: number;
  maxUrlLength: number;
  maxSize: number;
  maxTypeLength: number;
}
export const MANIFEST_LIMITS: Readonly<ManifestLimits>;

export interface ManifestEntry {
  /** Absolute, without fragment. */
  readonly url: string;
  /** SHA-256, 64 lowercase hex digits. */
  readonly hash: string;
  readonly size: number;
  readonly type: string;
}

export interface Manifest {
  readonly version: 1;
  readonly size: number;
  get(url: string): ManifestEntry | undefined;
  entries(): ManifestEntry[];
}

export class ManifestError extends Error {
  name: 'ManifestError';
  code: 'bad-json' | 'bad-manifest' | 'bad-version' | 'too-many' | 'bad-entry';
  /** The resource key at fault ('bad-entry'). */
  key?: string;
}

/** Throws ManifestError. `input`: the JSON text, or the parsed object. */
export function parseManifest(input: string | object, baseUrl: string, options?: Partial<ManifestLimits>): Manifest;
export function manifestKey(url: string, base?: string): string;
