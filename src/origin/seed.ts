import { count, sql } from "drizzle-orm";
import { regions, type RegionCode } from "../contract/regions.js";
import type { Database } from "./db/database.js";
import { clinics, slots } from "./db/schema.js";
import { seoulDayStart, seoulToday } from "./slot-store.js";

/**
 * Demo data: three vaccination clinics in each of Korea's 17 regions and 30-minute slots from 09:00 to
 * 18:00 (Seoul) for a week from today. Names, addresses and capacities are derived from the region and
 * the position, never random, so two seeds of the same day are identical.
 */

/** Three districts (시·군·구, or 동·읍 in Sejong, which has no districts) and a short name per region. */
const places: Record<RegionCode, { short: string; districts: [string, string, string] }> = {
  "11": { short: "서울", districts: ["종로구", "강남구", "마포구"] },
  "26": { short: "부산", districts: ["해운대구", "부산진구", "사하구"] },
  "27": { short: "대구", districts: ["수성구", "달서구", "북구"] },
  "28": { short: "인천", districts: ["남동구", "연수구", "부평구"] },
  "29": { short: "광주", districts: ["북구", "서구", "광산구"] },
  "30": { short: "대전", districts: ["유성구", "서구", "중구"] },
  "31": { short: "울산", districts: ["남구", "중구", "울주군"] },
  "36": { short: "세종", districts: ["한솔동", "조치원읍", "보람동"] },
  "41": { short: "경기", districts: ["수원시", "성남시", "고양시"] },
  "51": { short: "강원", districts: ["춘천시", "원주시", "강릉시"] },
  "43": { short: "충북", districts: ["청주시", "충주시", "제천시"] },
  "44": { short: "충남", districts: ["천안시", "아산시", "공주시"] },
  "52": { short: "전북", districts: ["전주시", "익산시", "군산시"] },
  "46": { short: "전남", districts: ["목포시", "여수시", "순천시"] },
  "47": { short: "경북", districts: ["포항시", "구미시", "경주시"] },
  "48": { short: "경남", districts: ["창원시", "김해시", "진주시"] },
  "50": { short: "제주", districts: ["제주시", "서귀포시", "애월읍"] },
};

// A public health centre (where most 2021 vaccinations happened) and two private practices.
const clinicKinds: Array<(place: { district: string; short: string }) => string> = [
  ({ district }) => `${district} 보건소`,
  ({ short }) => `${short}중앙내과의원`,
  ({ district }) => `${district} 열린가정의학과의원`,
];
const streets = ["중앙로", "시청로", "문화로"];

export const SEED_DAYS = 7;
const FIRST_SLOT_MINUTES = 9 * 60;
const LAST_SLOT_END_MINUTES = 18 * 60;
const SLOT_MINUTES = 30;
// Chunked so a seed stays well under Postgres's 65,535 bind parameters per statement.
const SLOT_BATCH = 2000;

export interface SeedResult {
  clinics: number;
  slots: number;
}

/** Seeds an empty database; returns undefined, writing nothing, when clinics already exist. */
export async function seedIfEmpty(db: Database, now: Date = new Date()): Promise<SeedResult | undefined> {
  return db.transaction(async (tx) => {
    // Two origins starting at once on one empty database must not both seed it.
    await tx.execute(sql`lock table ${clinics} in exclusive mode`);
    const [existing] = await tx.select({ n: count() }).from(clinics);
    if ((existing?.n ?? 0) > 0) return undefined;

    const clinicRows = regions.flatMap((region, r) => {
      const { short, districts } = places[region.code];
      return districts.map((district, i) => ({
        name: clinicKinds[i % clinicKinds.length]!({ district, short }),
        region: region.code,
        address: `${region.ko} ${district} ${streets[i % streets.length]} ${11 + ((r * 17 + i * 29) % 240)}`,
      }));
    });
    const inserted = await tx.insert(clinics).values(clinicRows).returning({ id: clinics.id });

    const firstDay = seoulDayStart(seoulToday(now)).getTime();
    const slotRows = inserted.flatMap(({ id }, c) =>
      Array.from({ length: SEED_DAYS }, (_, day) => day).flatMap((day) => {
        const times: Array<typeof slots.$inferInsert> = [];
        for (let m = FIRST_SLOT_MINUTES, k = 0; m < LAST_SLOT_END_MINUTES; m += SLOT_MINUTES, k++) {
          times.push({
            clinicId: id,
            startsAt: new Date(firstDay + day * 86_400_000 + m * 60_000),
            capacity: 6 + ((c * 31 + day * 7 + k * 3) % 15),
          });
        }
        return times;
      }),
    );
    for (let i = 0; i < slotRows.length; i += SLOT_BATCH) {
      await tx.insert(slots).values(slotRows.slice(i, i + SLOT_BATCH));
    }
    return { clinics: inserted.length, slots: slotRows.length };
  });
}
