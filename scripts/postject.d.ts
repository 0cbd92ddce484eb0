// postject ships no types; the one call scripts/build-shim.ts makes.
declare module "postject" {
  export function inject(file: string, resourceName: string, resourceData: Buffer, options?: { sentinelFuse?: string; machoSegmentName?: string; overwrite?: boolean }): Promise<void>;
}
