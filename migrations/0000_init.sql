CREATE TABLE `clusters` (
	`id` text PRIMARY KEY NOT NULL,
	`site_id` text NOT NULL,
	`name` text NOT NULL,
	`spec` text NOT NULL,
	`spec_version` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `clusters_site_name` ON `clusters` (`site_id`,`name`);--> statement-breakpoint
CREATE TABLE `events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`site_id` text,
	`cluster_id` text,
	`kind` text NOT NULL,
	`severity` text NOT NULL,
	`group_name` text,
	`node` text,
	`epoch` integer,
	`reason` text NOT NULL,
	`actor` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `events_cluster` ON `events` (`cluster_id`,`id`);--> statement-breakpoint
CREATE INDEX `events_site` ON `events` (`site_id`,`id`);--> statement-breakpoint
CREATE TABLE `nodes` (
	`cluster_id` text NOT NULL,
	`name` text NOT NULL,
	`hostname` text NOT NULL,
	`ip` text NOT NULL,
	`role` text NOT NULL,
	PRIMARY KEY(`cluster_id`, `name`),
	FOREIGN KEY (`cluster_id`) REFERENCES `clusters`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `sites` (
	`id` text PRIMARY KEY NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`site_id` text,
	`cluster_id` text,
	`node_name` text,
	`label` text DEFAULT '' NOT NULL,
	`hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tokens_hash` ON `tokens` (`hash`);--> statement-breakpoint
CREATE INDEX `tokens_node` ON `tokens` (`cluster_id`,`node_name`);