// What both page tests share: Debian's headless Chromium launched as this machine allows it
// (playwright-core, no downloaded browser), a check that fails with its reason, and the page's
// own errors collected.
import { readFile } from "node:fs/promises";
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

// Both pages' detail of the test batch whose S1/I2 was rejected for TiresCovered, sent as
// "TiresCoverd": its warnings counted (the misspelt field, first at record 1), and its
// rejected.csv with the record as sent.
export async function checkRejectedBatch(page) {
  const warned = await page.locator("#warned-part").innerText();
  check(/Warnings: 1/.test(warned) && /Registrations\s+TiresCoverd\s+unknown_field\s+1\s+1\s/.test(warned),
        "the batch's warnings: " + warned);
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#csv")]);
  const csv = await readFile(await download.path(), "utf8");
  check(csv.startsWith("Record,Index,ShopID,InvoiceNumber,Field,Code,Message,Sent\n"), "the CSV's header: " + csv);
  check(csv.includes("Registrations,1,S1,I2,TiresCovered,required") && csv.includes('""InvoiceNumber"":""I2""') &&
        csv.includes('""TiresCoverd""'), "the CSV's row: " + csv);
}
