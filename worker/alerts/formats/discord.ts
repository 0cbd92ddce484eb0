// Discord webhook: one embed with the facts as fields (limits: title 256, field value 1024).
import { colorOf, lines } from "../advice.js";
import type { Alert, Rendered } from "../types.js";

export function renderDiscord(a: Alert): Rendered {
  const body = {
    username: "chime-ha",
    content: a.title.slice(0, 2000),
    allowed_mentions: { parse: [] as string[] },
    embeds: [
      {
        title: a.title.slice(0, 256),
        color: colorOf(a),
        fields: lines(a).map((f) => ({ name: f.label, value: f.value.slice(0, 1024) || "-", inline: false })),
        footer: { text: `alert #${a.id} · incident ${a.incident}`.slice(0, 2048) },
        timestamp: new Date(a.at).toISOString(),
      },
    ],
  };
  return { body: JSON.stringify(body), headers: { "content-type": "application/json" } };
}
