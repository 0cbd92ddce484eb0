// V8 flags the node agent runs with (systemd unit, bundle hashbang, bench:shim). A 1 MB young
// generation and lite mode (interpreter only: a heartbeat a second needs no optimizing compiler)
// keep RSS under the 60 MB goal. --no-expose-wasm: lite mode turns WebAssembly off anyway, and
// saying so keeps V8 from printing a warning at every start.
export const SHIM_NODE_FLAGS = ["--max-semi-space-size=1", "--lite-mode", "--no-expose-wasm"];

/**
 * The single executable takes no Node flags on its command line, and NODE_OPTIONS (set by the
 * systemd unit) allows neither --lite-mode nor --no-expose-wasm (without which --jitless prints a
 * warning at every start): only the young generation size. It is built minified instead, which
 * saves more (scripts/build-shim.ts; bench:shim with BENCH_RUNTIME=sea measures it).
 */
export const SHIM_SEA_NODE_OPTIONS = ["--max-semi-space-size=1"];
