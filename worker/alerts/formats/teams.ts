// Microsoft Teams (Workflows / incoming webhook): an Adaptive Card with a fact set.
import { lines } from "../advice.js";
import type { Alert, Rendered } from "../types.js";

export function renderTeams(a: Alert): Rendered {
  const color = a.phase === "resolved" ? "Good" : a.severity === "critical" ? "Attention" : a.severity === "warning" ? "Warning" : "Accent";
  const body = {
    type: "message",
    summary: a.title,
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body: [
            { type: "TextBlock", text: a.title, weight: "Bolder", size: "Medium", color, wrap: true },
            { type: "FactSet", facts: lines(a).map((f) => ({ title: f.label, value: f.value })) },
            { type: "TextBlock", text: `chime-ha alert #${a.id} · incident ${a.incident}`, isSubtle: true, size: "Small", wrap: true },
          ],
        },
      },
    ],
  };
  return { body: JSON.stringify(body), headers: { "content-type": "application/json" } };
}
