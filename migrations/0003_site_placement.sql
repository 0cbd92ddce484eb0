ALTER TABLE `sites` ADD `location_hint` text;--> statement-breakpoint
ALTER TABLE `sites` ADD `jurisdiction` text;