import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: { PASS_SIGNING_KEYS: "[]", CITIZEN_KEY_SECRET: "x".repeat(32) } },
          }),
        ],
        test: { name: "edge", include: ["test/edge/**/*.test.ts"] },
      },
    ],
  },
});
