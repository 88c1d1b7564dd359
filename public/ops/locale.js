/*
 * Loaded before uPlot, which formats numbers with the browser's language as soon as it loads. A POSIX-style
 * language (Chromium reports "en-US@posix" under LANG=C.UTF-8) is not a BCP 47 tag, so Intl throws on it and
 * no chart would draw. The console then sees the tag's valid part, or "en-US".
 */
(() => {
  const valid = (tag) => {
    try {
      new Intl.NumberFormat(tag);
      return true;
    } catch {
      return false;
    }
  };
  if (valid(navigator.language)) return;
  const usable = [navigator.language, ...navigator.languages].map((tag) => String(tag).split("@")[0]).find(valid) ?? "en-US";
  Object.defineProperty(navigator, "language", { value: usable, configurable: true });
})();
