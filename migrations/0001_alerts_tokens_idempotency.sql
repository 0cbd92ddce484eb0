CREATE TABLE `alert_outbox` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`webhook_id` text NOT NULL,
	`event_key` text NOT NULL,
	`cluster_id` text,
	`incident` text NOT NULL,
	`phase` text NOT NULL,
	`alert` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`created_at` integer NOT NULL,
	`delivered_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `alert_outbox_event` ON `alert_outbox` (`webhook_id`,`event_key`);--> statement-breakpoint
CREATE INDEX `alert_outbox_order` ON `alert_outbox` (`webhook_id`,`incident`,`id`);--> statement-breakpoint
CREATE TABLE `dead_letters` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`outbox_id` integer NOT NULL,
	`webhook_id` text NOT NULL,
	`attempts` integer NOT NULL,
	`last_error` text NOT NULL,
	`dead_at` integer NOT NULL,
	`replayed_at` integer
);
--> statement-breakpoint
CREATE INDEX `dead_letters_webhook` ON `dead_letters` (`webhook_id`,`id`);--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`token_id` text NOT NULL,
	`key` text NOT NULL,
	`request_hash` text NOT NULL,
	`status` integer NOT NULL,
	`content_type` text,
	`body` text NOT NULL,
	`headers` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`token_id`, `key`)
);
--> statement-breakpoint
CREATE TABLE `incidents` (
	`webhook_id` text NOT NULL,
	`cluster_id` text NOT NULL,
	`incident` text NOT NULL,
	`state` text NOT NULL,
	`severity` text NOT NULL,
	`opened_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`updates` integer DEFAULT 0 NOT NULL,
	`last_key` text NOT NULL,
	PRIMARY KEY(`webhook_id`, `cluster_id`, `incident`)
);
--> statement-breakpoint
CREATE TABLE `webhooks` (
	`id` text PRIMARY KEY NOT NULL,
	`label` text DEFAULT '' NOT NULL,
	`format` text NOT NULL,
	`url` text NOT NULL,
	`secret` text,
	`site_id` text,
	`cluster_id` text,
	`min_severity` text NOT NULL,
	`rate_per_minute` integer NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
