// A TCP proxy on 127.0.0.1 in front of the control plane that a test can cut: after cut(), no
// byte moves in either direction and new connections hang (like a partition, not a refusal).
import { createServer, type Server, type Socket, connect } from "node:net";

export class CutProxy {
  private server: Server | null = null;
  private readonly pairs = new Set<[Socket, Socket]>();
  private cutAt: number | null = null;
  /** Wall-clock ms of the last byte forwarded client -> upstream (a request reaching the control plane). */
  lastForwardedAt = 0;

  constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {}

  get isCut(): boolean {
    return this.cutAt !== null;
  }

  async listen(): Promise<string> {
    this.server = createServer((client) => {
      const upstream = connect(this.upstreamPort, this.upstreamHost);
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      const forget = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on("data", (d) => {
        if (this.cutAt !== null) return; // dropped on the floor
        this.lastForwardedAt = Date.now();
        upstream.write(d);
      });
      upstream.on("data", (d) => {
        if (this.cutAt === null) client.write(d);
      });
      client.on("close", forget);
      upstream.on("close", () => {
        // While cut, the client must not learn that anything happened.
        if (this.cutAt === null) forget();
      });
      client.on("error", forget);
      upstream.on("error", () => (this.cutAt === null ? forget() : undefined));
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  /** Stop forwarding; returns the wall-clock time of the cut. */
  cut(): number {
    this.cutAt = Date.now();
    return this.cutAt;
  }

  /** Forward again; connections held during the cut are dropped so clients reconnect. */
  restore(): void {
    this.cutAt = null;
    for (const [c, u] of [...this.pairs]) {
      c.destroy();
      u.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.restore();
    await new Promise((r) => (this.server ? this.server.close(r) : r(undefined)));
  }
}
