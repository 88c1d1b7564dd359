import { ConfigError, parseDatabaseConfig } from "./config.js";
import { openDatabase } from "./db/connect.js";
import { seedIfEmpty } from "./seed.js";

/** `npm run db:seed`: migrates the configured database and seeds it if it has no clinics. */
async function main(): Promise<void> {
  // The database alone: seeding verifies no pass, so it needs none of the pass settings.
  const config = parseDatabaseConfig(process.env);
  const connection = await openDatabase(config);
  try {
    await connection.migrate();
    const seeded = await seedIfEmpty(connection.db);
    console.log(
      seeded
        ? `seeded ${seeded.clinics} clinics and ${seeded.slots} slots`
        : "the database already has clinics; nothing seeded",
    );
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
