/** Korea's 17 first-level regions (provinces and metropolitan cities), by their administrative code. */
export const regions = [
  { code: "11", ko: "서울특별시", en: "Seoul" },
  { code: "26", ko: "부산광역시", en: "Busan" },
  { code: "27", ko: "대구광역시", en: "Daegu" },
  { code: "28", ko: "인천광역시", en: "Incheon" },
  { code: "29", ko: "광주광역시", en: "Gwangju" },
  { code: "30", ko: "대전광역시", en: "Daejeon" },
  { code: "31", ko: "울산광역시", en: "Ulsan" },
  { code: "36", ko: "세종특별자치시", en: "Sejong" },
  { code: "41", ko: "경기도", en: "Gyeonggi" },
  { code: "51", ko: "강원특별자치도", en: "Gangwon" },
  { code: "43", ko: "충청북도", en: "North Chungcheong" },
  { code: "44", ko: "충청남도", en: "South Chungcheong" },
  { code: "52", ko: "전북특별자치도", en: "North Jeolla" },
  { code: "46", ko: "전라남도", en: "South Jeolla" },
  { code: "47", ko: "경상북도", en: "North Gyeongsang" },
  { code: "48", ko: "경상남도", en: "South Gyeongsang" },
  { code: "50", ko: "제주특별자치도", en: "Jeju" },
] as const;
export const regionCodes = regions.map((r) => r.code) as [string, ...string[]];
export type RegionCode = (typeof regions)[number]["code"];
