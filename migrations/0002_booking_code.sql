-- Every booking gets a short code a person can read out. drizzle-kit wrote the column as NOT NULL at
-- once, which an existing row would refuse: the column comes first, each existing row then draws a code
-- as the origin draws one (8 characters of BOOKING_CODE_ALPHABET in src/contract/booking.ts), the
-- rare duplicates draw again until none is left, and only then NOT NULL and the unique index hold.
ALTER TABLE "bookings" ADD COLUMN "code" text;--> statement-breakpoint
-- The WHERE names the row, so the subquery is drawn again for each row instead of once for all.
UPDATE "bookings" SET "code" = (
	SELECT string_agg(substr('23456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + floor(random() * 30)::int, 1), '')
	FROM generate_series(1, 8)
	WHERE "bookings"."id" IS NOT NULL
);--> statement-breakpoint
DO $$
BEGIN
	LOOP
		UPDATE "bookings" SET "code" = (
			SELECT string_agg(substr('23456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + floor(random() * 30)::int, 1), '')
			FROM generate_series(1, 8)
			WHERE "bookings"."id" IS NOT NULL
		)
		WHERE "id" IN (
			SELECT "id" FROM (
				SELECT "id", row_number() OVER (PARTITION BY "code" ORDER BY "created_at", "id") AS "nth" FROM "bookings"
			) AS "drawn"
			WHERE "nth" > 1
		);
		EXIT WHEN NOT FOUND;
	END LOOP;
END $$;--> statement-breakpoint
ALTER TABLE "bookings" ALTER COLUMN "code" SET NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "bookings_code_idx" ON "bookings" USING btree ("code");
