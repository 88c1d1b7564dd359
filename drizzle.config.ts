import { defineConfig } from "drizzle-kit";

// The origin's tables live in one file; `npm run db:generate` writes the SQL that is committed in
// migrations/ and applied by src/origin/db/migrate.ts on start (PGlite) or against DATABASE_URL.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/origin/db/schema.ts",
  out: "./migrations",
  casing: "snake_case",
});
