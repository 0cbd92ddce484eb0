// Local stand-in HTTP servers on 127.0.0.1 (no MinIO, BMC or chime-server can run here):
// - MinioStandIn serves /minio/health/{live,cluster,cluster/read} with switchable answers;
// - Recorder records every request (method, path, body, time) and answers with a set status:
//   the fence webhook and chime-server's evacuation endpoint.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as { port: number }).port };
}

export class MinioStandIn {
  live = true;
  writeQuorum = true;
  readQuorum = true;
  port = 0;
  private server: Server | null = null;

  async start(): Promise<void> {
    const { server, port } = await listen((req, res) => {
      const status = (ok: boolean) => (this.live && ok ? 200 : 503);
      // MinIO answers these with an empty body; a dead node does not answer at all (see `live`).
      if (req.url === "/minio/health/live") res.writeHead(status(true)).end();
      else if (req.url === "/minio/health/cluster") res.writeHead(status(this.writeQuorum)).end();
      else if (req.url === "/minio/health/cluster/read") res.writeHead(status(this.readQuorum)).end();
      else res.writeHead(404).end();
    });
    this.server = server;
    this.port = port;
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r) ?? r(undefined));
  }
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: string;
  contentType: string | undefined;
  authorization: string | undefined;
  idempotencyKey: string | undefined;
  at: number;
}

export class Recorder {
  requests: RecordedRequest[] = [];
  status = 200;
  reply = '{"accepted":true}';
  port = 0;
  private server: Server | null = null;

  async start(): Promise<void> {
    const { server, port } = await listen((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += String(d)));
      req.on("end", () => {
        this.requests.push({ method: req.method ?? "", path: req.url ?? "", body, contentType: req.headers["content-type"], authorization: req.headers.authorization, idempotencyKey: header(req, "idempotency-key"), at: performance.now() });
        res.writeHead(this.status, { "content-type": "application/json" }).end(this.reply);
      });
    });
    this.server = server;
    this.port = port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r) ?? r(undefined));
  }
}

const header = (req: IncomingMessage, name: string) => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * chime-server's evacuation endpoint as an idempotent API: the first request with a key starts
 * one evacuation (answered after `delayMs`, so it can still be in flight when the executor dies);
 * a request with a key already seen gets that evacuation's answer and starts nothing. Counts
 * requests and effective evacuations per key.
 */
export class ChimeServerStandIn {
  requests: RecordedRequest[] = [];
  /** Evacuations started, by idempotency key (a request without a key always starts one). */
  effective = new Map<string, number>();
  delayMs = 0;
  port = 0;
  private server: Server | null = null;
  private running = new Map<string, Promise<void>>();
  private anonymous = 0;

  async start(): Promise<void> {
    const { server, port } = await listen((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += String(d)));
      req.on("end", () => {
        const key = header(req, "idempotency-key");
        this.requests.push({ method: req.method ?? "", path: req.url ?? "", body, contentType: req.headers["content-type"], authorization: req.headers.authorization, idempotencyKey: key, at: performance.now() });
        const k = key ?? `anonymous-${++this.anonymous}`;
        let job = this.running.get(k);
        if (!job) {
          this.effective.set(k, (this.effective.get(k) ?? 0) + 1);
          job = new Promise((r) => setTimeout(r, this.delayMs));
          this.running.set(k, job);
        }
        void job.then(() => res.writeHead(202, { "content-type": "application/json" }).end(JSON.stringify({ evacuation: k, host: JSON.parse(body || "{}").host ?? null })));
      });
    });
    this.server = server;
    this.port = port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r) ?? r(undefined));
  }
}
