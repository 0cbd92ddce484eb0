// V8 flags the node agent runs with (systemd unit, bundle hashbang, bench:shim). A 1 MB young
// generation and lite mode (interpreter only: a heartbeat a second needs no optimizing compiler)
// keep RSS under the 60 MB goal. --no-expose-wasm: lite mode turns WebAssembly off anyway, and
// saying so keeps V8 from printing a warning at every start.
export const SHIM_NODE_FLAGS = ["--max-semi-space-size=1", "--lite-mode", "--no-expose-wasm"];
