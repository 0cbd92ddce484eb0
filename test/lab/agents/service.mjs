// Stand-in for a ChimeStack service on a server host: answers its node name on every path of
// every port given (chime-server: 8801 8802; chime-portal: 8033). Prints "listening" when up.
import http from "node:http";

// Named like the real service (/proc/PID/comm), so keepalived's vrrp_track_process can follow it.
if (process.env.LAB_PROCESS_NAME) process.title = process.env.LAB_PROCESS_NAME;

const [name, ...ports] = process.argv.slice(2);
let up = 0;
for (const port of ports) {
  http
    .createServer((_req, res) => {
      res.setHeader("content-type", "text/plain");
      res.setHeader("connection", "close");
      res.end(name);
    })
    .listen(Number(port), "0.0.0.0", () => {
      if (++up === ports.length) process.stdout.write("listening\n");
    });
}
