// Google Chat incoming webhook: plain `text` (always shown) plus a cardsV2 card.
import { lines } from "../advice.js";
import type { Alert, Rendered } from "../types.js";

export function renderGoogleChat(a: Alert): Rendered {
  const facts = lines(a);
  const body = {
    text: `*${a.title}*\n${facts.map((f) => `${f.label}: ${f.value}`).join("\n")}`,
    cardsV2: [
      {
        cardId: `chime-ha-${a.id}`,
        card: {
          header: { title: a.title, subtitle: `incident ${a.incident}` },
          sections: [{ widgets: facts.map((f) => ({ decoratedText: { topLabel: f.label, text: escape(f.value), wrapText: true } })) }],
        },
      },
    ],
  };
  return { body: JSON.stringify(body), headers: { "content-type": "application/json; charset=UTF-8" } };
}

/** Card text is HTML-ish. */
const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
