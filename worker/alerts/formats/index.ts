// One renderer per destination format.
import type { Alert, Rendered, WebhookFormat } from "../types.js";
import { renderDiscord } from "./discord.js";
import { renderGenericJson } from "./generic-json.js";
import { renderGoogleChat } from "./google-chat.js";
import { renderSlack } from "./slack.js";
import { renderTeams } from "./teams.js";

export async function render(format: WebhookFormat, alert: Alert, secret: string | null, nowMs: number): Promise<Rendered> {
  switch (format) {
    case "slack":
      return renderSlack(alert);
    case "discord":
      return renderDiscord(alert);
    case "teams":
      return renderTeams(alert);
    case "google-chat":
      return renderGoogleChat(alert);
    case "generic-json":
      if (!secret) throw new Error("generic-json webhook without a secret");
      return renderGenericJson(alert, secret, nowMs);
  }
}
