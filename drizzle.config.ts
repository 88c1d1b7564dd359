import { defineConfig } from "drizzle-kit";

// The origin's tables live in one file; `npm run db:generate` writes the SQL that is committed in
// migrations/, and the origin applies what a database has not seen yet when it starts (`migrate()` of
// src/origin/db/connect.ts, for PGlite and for DATABASE_URL alike).
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/origin/db/schema.ts",
  out: "./migrations",
  casing: "snake_case",
});
