import { z } from "zod";

/** `GET /auth/login`'s query: the language of the provider's page. */
export const loginQuery = z.object({ lang: z.enum(["ko", "en"]).optional() });
