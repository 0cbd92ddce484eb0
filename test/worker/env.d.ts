/// <reference types="vite/client" />
import type { D1Migration } from "cloudflare:test";
import type { Env as WorkerEnv } from "../../worker/env.js";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      TEST_MIGRATIONS: D1Migration[];
      CHIME_FUZZ_SEED: string;
    }
  }
}
declare module "cloudflare:test" {
  interface ProvidedEnv extends WorkerEnv {
    TEST_MIGRATIONS: D1Migration[];
    CHIME_FUZZ_SEED: string;
  }
}
