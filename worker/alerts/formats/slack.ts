// Slack incoming webhook: `text` for notifications, blocks for the readable message.
import { colorOf, hex, lines } from "../advice.js";
import type { Alert, Rendered } from "../types.js";

export function renderSlack(a: Alert): Rendered {
  const fields = lines(a);
  const body = {
    text: a.title,
    attachments: [
      {
        color: `#${hex(colorOf(a))}`,
        blocks: [
          { type: "header", text: { type: "plain_text", text: a.title.slice(0, 150) } },
          { type: "section", text: { type: "mrkdwn", text: fields.map((f) => `*${f.label}:* ${escape(f.value)}`).join("\n") } },
          { type: "context", elements: [{ type: "mrkdwn", text: `chime-ha alert #${a.id} · incident \`${escape(a.incident)}\`` }] },
        ],
      },
    ],
  };
  return { body: JSON.stringify(body), headers: { "content-type": "application/json" } };
}

/** Slack mrkdwn needs &, < and > escaped. */
const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
