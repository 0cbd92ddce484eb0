// V8 flags the node agent runs with (systemd unit, bundle hashbang, bench:shim). A 1 MB young
// generation and lite mode (interpreter only: a heartbeat a second needs no optimizing compiler)
// keep RSS under the 60 MB goal. --no-expose-wasm: lite mode turns WebAssembly off anyway, and
// saying so keeps V8 from printing a warning at every start.
export const SHIM_NODE_FLAGS = ["--max-semi-space-size=1", "--lite-mode", "--no-expose-wasm"];

/**
 * The single executable takes no Node flags on its command line; NODE_OPTIONS (set by the systemd
 * unit) allows --jitless (interpreter only, what --lite-mode implies for the compiler) but not
 * --lite-mode or --no-expose-wasm, so V8 says once at start that it turned WebAssembly off.
 * bench:shim (BENCH_RUNTIME=sea, 60 s): RSS avg 60.4 MB with these, 65.9 MB without --jitless.
 */
export const SHIM_SEA_NODE_OPTIONS = ["--max-semi-space-size=1", "--jitless"];
