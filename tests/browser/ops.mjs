// Drives the operators' page (/console/ops) in Debian's headless Chromium (playwright-core, no
// downloaded browser). Run by tests/process/browser.rs with BASE_URL, TOKEN (an admin's) and
// SCREENSHOT (where the page's picture goes). Before it: tirecompany (due at 00:00 on six days a
// week, today among them, no live batch: late) has a test batch of two registrations, S1/I1
// written and S1/I2 rejected (TiresCovered missing), then one of two claims on S1/I1, R1 written
// and R2 rejected (TireBrand missing), and a request with a bad token was refused. Exits
// non-zero, saying why, when the page does not show them.
import { check, checkRejectedBatch, launch, problemsOf } from "./chromium.mjs";

const { BASE_URL, TOKEN, SCREENSHOT } = process.env;

// How many pixels of a PNG are close to each of `colors` ([r, g, b]): decoded by the browser
// itself, in a blank page of its own.
async function colorCounts(browser, png, colors) {
  const blank = await browser.newPage();
  try {
    return await blank.evaluate(async ({ data, colors }) => {
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const ctx = canvas.getContext("2d");
      ctx.drawImage(bitmap, 0, 0);
      const pixels = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
      const counts = colors.map(() => 0);
      for (let i = 0; i < pixels.length; i += 4) {
        colors.forEach(([r, g, b], k) => {
          if (Math.abs(pixels[i] - r) < 16 && Math.abs(pixels[i + 1] - g) < 16 && Math.abs(pixels[i + 2] - b) < 16) counts[k]++;
        });
      }
      return counts;
    }, { data: png.toString("base64"), colors });
  } finally {
    await blank.close();
  }
}

const browser = await launch();
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = problemsOf(page);

  await page.goto(BASE_URL + "/console/ops");
  // Pasted as a terminal wrapped it: the page drops the line break.
  await page.fill("#token", TOKEN.slice(0, 40) + "\n" + TOKEN.slice(40));
  await page.click("#load");
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("Loaded"), null, { timeout: 10000 });

  // This server: its build, database and (here) plain HTTP; a newer build migrated its database.
  const server = await page.locator("#server").innerText();
  check(/^This server: warranty-gateway \d+\.\d+\.\d+ \(schema V\d+__\w+\) on (sqlite|postgresql) \(\d+\.\d MB\), started \d{4}-\d\d-\d\d /.test(server) &&
        server.includes("database at V98__from_a_newer_build UPGRADE THIS INSTANCE;") &&
        server.includes("plain HTTP") && /last backup \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(30 h ago\) BACKUP STALE;/.test(server),
        "the server line: " + server);

  // The partners, with tirecompany's late badge.
  const partner = page.locator('#partners tr[data-company="tirecompany"]');
  check((await partner.count()) === 1, "tirecompany is not listed");
  const row = await partner.innerText();
  check(row.includes("LATE") && row.includes("00:00"), "tirecompany should be late: " + row);
  check(/00:00 UTC \(\w{3}( \w{3}){5}\)/.test(row), "tirecompany's six due days should be shown: " + row);
  // Its one secret, ending the day after tomorrow, with when it last verified a token (the
  // posts before the page opened): flagged, the partner's nights failing from its end.
  const credentials = await partner.locator("td.credentials").innerText();
  check(/^secret 1 \(ends \d{4}-\d\d-\d\d 23:59:59\): \d{4}-\d\d-\d\d \d\d:\d\d:\d\d ENDING, IN USE$/.test(credentials.trim()),
        "tirecompany's credentials: " + credentials);

  // The chart: today's written and rejected records as bars.
  await page.waitForSelector("#chart svg rect.written", { timeout: 10000 });
  check((await page.locator("#chart svg rect.rejected").count()) >= 1, "no rejected bar in the chart");
  const chart = await page.locator("#chart").screenshot();
  const [blue, red] = await colorCounts(browser, chart, [[0x1f, 0x5f, 0xbf], [0xd9, 0x2d, 0x20]]);
  check(blue > 50 && red > 50, `the chart's screenshot shows no bars (written ${blue} px, rejected ${red} px)`);

  // A v3 id nobody has: said so (the id alone is searched, whatever else is typed).
  await page.fill("#v3id", "ffffffffffffffffffffffff");
  await page.click("#search");
  await page.waitForFunction(() => document.getElementById("matches").textContent.includes("that v3 id"), null, { timeout: 10000 });
  check((await page.locator("#matches").innerText()) === "No registration of any partner has that v3 id.",
        "an unknown v3 id: " + (await page.locator("#matches").innerText()));
  await page.fill("#v3id", "");

  // An invoice's trail: the rejected registration, found by the ShopID and InvoiceNumber it named.
  await page.fill("#shop", "S1");
  await page.fill("#invoice", "I2");
  await page.click("#search");
  await page.waitForSelector("#matches .match tbody.trail tr", { timeout: 10000 });
  const match = await page.locator("#matches").innerText();
  check(match.includes("tirecompany (test)") && match.includes("No registration stored"), "the match: " + match);
  check(/Registrations\s+1\s+rejected\s+required/.test(match), "the trail's rejected record: " + match);

  // Its batch, opened from the trail: the rejected record, and the CSV with the record as sent.
  await page.locator("#matches tbody.trail button").first().click();
  await page.waitForSelector("#rejected tr", { timeout: 10000 });
  const rejected = await page.locator("#rejected").innerText();
  check(rejected.includes("TiresCovered") && rejected.includes("TiresCovered is required"), "the batch's rejected record: " + rejected);
  check(rejected.includes("ShopID S1, InvoiceNumber I2"), "the rejected record's key: " + rejected);
  check(/warning\s+unknown field "TiresCoverd" was ignored: is it TiresCovered\?/.test(rejected), "the rejected record's warning: " + rejected);
  await checkRejectedBatch(page);

  // A ShopID typed wrong (I1 is at S1): the shop that has the invoice, one click away.
  await page.fill("#shop", "S9");
  await page.fill("#invoice", "I1");
  await page.click("#search");
  await page.waitForSelector("#matches p.other-shops button", { timeout: 10000 });
  const other = await page.locator("#matches p.other-shops").innerText();
  check(other.includes("That InvoiceNumber is at another shop: ShopID S1"), "the other shops: " + other);
  await page.locator("#matches p.other-shops button").click();
  await page.waitForSelector("#matches .match", { timeout: 10000 });
  check((await page.inputValue("#shop")) === "S1", "the ShopID searched from the other shops");

  // I1 by its InvoiceNumber alone (found at S1): what is stored, folded until opened (the
  // registration's fields, the written claim), and the rejected claim's batch, whose key shows
  // its empty OrgID as such.
  await page.fill("#shop", "");
  await page.fill("#invoice", "I1");
  await page.click("#search");
  await page.waitForSelector("#matches details.stored", { timeout: 10000 });
  const heading = await page.locator("#matches h3").allInnerTexts();
  check(heading.length === 1 && heading[0] === "tirecompany (test), ShopID S1", "the invoice's shops: " + heading);
  const summaries = await page.locator("#matches details.stored summary").allInnerTexts();
  check(summaries.length === 2 && summaries[0] === "Registration" && summaries[1] === "Claim of 2024-03-01 00:00:00",
        "the stored records: " + summaries);
  await page.locator("#matches details.stored summary").first().click();
  const stored = await page.locator("#matches details.stored").first().innerText();
  check(/CustomerID\s+C1/.test(stored) && /Empty: .*TireDOT1/.test(stored), "the stored registration: " + stored);
  await page.locator("#matches tbody.trail tr", { hasText: "rejected" }).locator("button").click();
  await page.waitForFunction(() => document.getElementById("rejected").innerText.includes("TireBrand"), null, { timeout: 10000 });
  const claimKey = await page.locator("#rejected").innerText();
  check(claimKey.includes("OrgID (none), ShopID S1, InvoiceNumber I1, RepairShopID S1, RepairInvoiceNumber R2"),
        "the rejected claim's key: " + claimKey);

  // The batches across partners (the two test batches), filtered by tenant and back.
  check((await page.locator("#batches tr.batch").count()) === 2, "the batches: " + (await page.locator("#batches").innerText()));
  check((await page.locator("#batches-page").innerText()) === "page 1 of 1 (2 batches)", "the batches' page");
  await page.selectOption("#batches-tenant", "live");
  await page.waitForFunction(() => document.getElementById("batches").innerText.includes("No batches like that."),
                             null, { timeout: 10000 });
  await page.selectOption("#batches-tenant", "test");
  await page.selectOption("#batches-status", "206");
  await page.waitForFunction(() => document.querySelectorAll("#batches tr.batch").length === 2, null, { timeout: 10000 });

  // The refused request, and the audit log of what was just done, shown as it was done.
  const refused = await page.locator("#refused").innerText();
  check(refused.includes("malformed_token") && refused.includes("/v2/partners/tirecompany"), "refused: " + refused);
  check(refused.includes("it has 1 part(s), where a JWT has three"), "the refusal as its client was told: " + refused);
  await page.selectOption("#refused-company", "tirecompany");
  await page.waitForTimeout(300);
  const partners = await page.locator("#refused").innerText();
  check(partners.includes("malformed_token"), "refused at tirecompany: " + partners);
  await page.waitForFunction(() => ["records_search", "batch_detail", "rejected_csv"]
    .every((action) => document.getElementById("audit").innerText.includes(action)), null, { timeout: 10000 })
    .catch(async () => { throw new Error("the audit log lacks an action: " + (await page.locator("#audit").innerText())); });

  if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT, fullPage: true });

  // A bad token gets the server's reason.
  await page.fill("#token", "not-a-token");
  await page.click("#load");
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("not a well-formed JWT"),
                             null, { timeout: 10000 });

  check(problems.length === 0, problems.join("\n"));
  console.log(`operators' page: server shown, late badge shown, chart drawn (${blue} px written, ${red} px rejected), trail found, CSV downloaded, audit listed`);
} finally {
  await browser.close();
}
