// The benchmark's baseline: a bare Durable Object that echoes a parsed body back. The heartbeat
// bench runs the same auth + JSON parse + DO round trip through it, side by side with the real
// path. Bench-only: bound in wrangler.toml's `bench` environment, never in the production Worker.
import { DurableObject } from "cloudflare:workers";

export class EchoObject extends DurableObject {
  private count = 0;

  async echo(body: unknown): Promise<{ n: number; body: unknown }> {
    this.count++;
    return { n: this.count, body };
  }
}
