// Data-service probes, appliers, fence hooks and operation handlers register themselves on
// import; this file is the one place the shim pulls them in.
export {};
