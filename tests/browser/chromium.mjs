// What both page tests share: Debian's headless Chromium launched as this machine allows it
// (playwright-core, no downloaded browser), a check that fails with its reason, and the page's
// own errors collected.
import { chromium } from "playwright-core";

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
}

// The page's script errors and console errors, to fail the test with; the browser's own note of
// a refused answer (a 401 the test asks for) is not one.
export function problemsOf(page) {
  const problems = [];
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push("console: " + m.text());
  });
  return problems;
}
