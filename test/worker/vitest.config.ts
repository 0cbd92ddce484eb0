// Worker suites run inside workerd through the Workers Vitest integration, with the real
// wrangler.toml bindings (D1, Durable Objects) and the D1 migrations applied before each file.
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";
import { startDnsStandIn } from "./dns-stand-in.js";

const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));

export default defineProject({
  plugins: [
    cloudflareTest(async () => ({
      main: root("worker/index.ts"),
      wrangler: { configPath: root("wrangler.toml") },
      miniflare: {
        bindings: {
          ADMIN_TOKEN: "test-admin-token",
          // Secrets at rest: k2 seals, k1 (an older key) still opens (test/worker/secrets.test.ts rotates).
          CHIME_SECRET_KEYS: "k2:Sra2Y9uADVwqLVwcMwx/rDz6o3DrVGygVFDOZmozG6M=,k1:3zP47uxOwR4r6z9M79dDfXkFpFr5vNDGi+Ip0zeiJ2M=",
          // Short alert retry backoff (1, 2, 4 s) and 4 attempts, so delivery tests take seconds.
          ALERT_RETRY_BASE_SECONDS: "1",
          ALERT_MAX_ATTEMPTS: "4",
          TEST_MIGRATIONS: await readD1Migrations(root("migrations")),
          // Randomized suites print their seed; set it to replay one run exactly.
          CHIME_FUZZ_SEED: process.env.CHIME_FUZZ_SEED ?? "",
          // Webhook host names are resolved here instead of over the internet.
          DNS_RESOLVER_URL: await startDnsStandIn(),
        },
      },
    })),
  ],
  test: {
    name: "worker",
    include: ["test/worker/**/*.test.ts"],
    root: root(""),
    setupFiles: [root("test/worker/apply-migrations.ts")],
    // A real HTTP receiver on 127.0.0.1 for the alert delivery tests.
    globalSetup: [root("test/worker/receiver.ts")],
    testTimeout: 30_000,
    // One file at a time: the failover tests use 300 ms leases and real time, which the property
    // and delivery suites would otherwise starve of CPU on a 2-core machine.
    fileParallelism: false,
  },
});
