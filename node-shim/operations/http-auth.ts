// Optional bearer tokens for the HTTP operations, from an environment variable named in the shim
// config (settings.<name>.tokenEnv), never from the spec (which the control plane stores).
export function authHeaders(settings: Record<string, unknown>, name: "fenceWebhook" | "evacuation"): Record<string, string> {
  const s = settings[name] as { tokenEnv?: unknown } | undefined;
  const token = typeof s?.tokenEnv === "string" ? process.env[s.tokenEnv] : undefined;
  return token ? { authorization: `Bearer ${token}` } : {};
}
