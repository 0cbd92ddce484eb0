import { defineConfig } from "drizzle-kit";

// Migrations for D1 are generated from the drizzle schema files: `npm run db:generate`.
export default defineConfig({
  dialect: "sqlite",
  schema: "./worker/db/schema*.ts",
  out: "./migrations",
});
