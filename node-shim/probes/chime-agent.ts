// chime-agent on compute nodes. The slim shim there only heartbeats (liveness is what fencing
// needs) and reports its chime-agent under the probe name `chime-agent`: the systemd unit must
// be active. It is an exec probe (`systemctl is-active <unit>`) through the CommandRunner, so in
// the compute node's shim config:
//   probes:
//     chime-agent: { type: exec, command: [systemctl, is-active, chime-agent] }
// or chimeAgentProbeSpec() from code.
import { type ProbeSpec, ProbeSpec as ProbeSpecSchema } from "../../protocol/spec.js";

export const CHIME_AGENT_PROBE = "chime-agent";

export function chimeAgentProbeSpec(unit = "chime-agent", intervalMs = 2000): ProbeSpec {
  if (!/^[A-Za-z0-9@._-]+$/.test(unit)) throw new Error(`'${unit}' is not a systemd unit name`);
  return ProbeSpecSchema.parse({ type: "exec", command: ["systemctl", "is-active", unit], intervalMs, timeoutMs: 1500, fall: 2, rise: 1 });
}
