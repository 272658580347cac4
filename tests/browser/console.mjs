// Drives the console page in Debian's headless Chromium (playwright-core, no downloaded browser).
// Run by tests/process/browser.rs with BASE_URL, COMPANY, TOKEN and V3_TOKEN (the sandbox's); a batch with a rejected
// record (TiresCovered missing) must already be in the test tenant, registration S1/I1 in it,
// and one batch in live. Exits non-zero, saying why, when the page does not show them.
import { check, checkRejectedBatch, launch, problemsOf } from "./chromium.mjs";

const { BASE_URL, COMPANY, TOKEN, V3_TOKEN, SCREENSHOT } = process.env;

const browser = await launch();
try {
  const page = await browser.newPage();
  const problems = problemsOf(page);

  await page.goto(BASE_URL + "/console");
  await page.fill("#company", COMPANY);
  // Pasted as a terminal wrapped it: the page drops the line break.
  await page.fill("#token", TOKEN.slice(0, 40) + "\n" + TOKEN.slice(40));
  await page.click("#load");

  // Both tenants' batches are listed.
  await page.waitForSelector("#test-batches tr.batch", { timeout: 10000 });
  await page.waitForSelector("#live-batches tr.batch", { timeout: 10000 });
  const testRows = await page.locator("#test-batches tr.batch").count();
  check(testRows >= 1, "no test batch listed");
  check((await page.locator("#test-page").innerText()) === "page 1 of 1" && (await page.locator("#test-older").isDisabled()),
        "the test batches' page: " + (await page.locator("#test-page").innerText()));
  const firstStatus = await page.locator("#test-batches tr.batch").first().locator("td").nth(2).textContent();
  check(firstStatus === "206", "the newest test batch should be the 206, got " + firstStatus);
  const firstWarnings = await page.locator("#test-batches tr.batch").first().locator("td").nth(5).textContent();
  check(firstWarnings === "1", "the 206's one warning is not counted in the list, got " + firstWarnings);

  // The status filter lists again at once, in both tenants: only the 206s, then only the 200s
  // (none in test: it says so), then every batch again.
  const statuses = async (tenant) => page.locator("#" + tenant + "-batches tr.batch td:nth-child(3)").allTextContents();
  // Both tenants are listed when the line above them says the filter.
  const filtered = (status) => page.waitForFunction(
    (s) => document.getElementById("status").textContent.startsWith("Batches of ") &&
      document.getElementById("status").textContent.includes(s ? "with status " + s : "newest first") &&
      (s || !document.getElementById("status").textContent.includes("with status")),
    status, { timeout: 10000 });
  await page.selectOption("#status-filter", "200");
  await filtered("200");
  check((await page.locator("#test-batches").innerText()).includes("No batches with status 200."),
        "test under the filter 200: " + (await page.locator("#test-batches").innerText()));
  const live200 = await statuses("live");
  check(live200.length >= 1 && live200.every((s) => s === "200"), "live under the filter 200: " + live200);
  await page.selectOption("#status-filter", "206");
  await filtered("206");
  const test206 = await statuses("test");
  check(test206.length >= 1 && test206.every((s) => s === "206"), "test under the filter 206: " + test206);
  check((await statuses("live")).length === 0, "live has no 206: " + (await statuses("live")));
  await page.selectOption("#status-filter", "");
  await filtered("");
  check((await page.locator("#test-batches tr.batch").count()) === testRows, "the filter taken off: every test batch again");

  // Opening it shows the rejected record with its field and reason.
  await page.locator("#test-batches tr.batch").first().click();
  await page.waitForSelector("#rejected tr", { timeout: 10000 });
  const rejected = await page.locator("#rejected").innerText();
  check(rejected.includes("TiresCovered") && rejected.includes("required") && rejected.includes("TiresCovered is required"),
        "the rejected record is not shown: " + rejected);
  check(/Registrations\s+1\s/.test(rejected), "the rejected record's place (Registrations, index 1) is not shown: " + rejected);
  check(rejected.includes("ShopID S1, InvoiceNumber I2"), "the rejected record's key is not shown: " + rejected);
  check(/warning\s+unknown field "TiresCoverd" was ignored: is it TiresCovered\?/.test(rejected), "the rejected record's warning is not shown: " + rejected);
  // And the batch's warnings, counted, and its rejected records as a sheet.
  await checkRejectedBatch(page);

  // The status lookup answers for the test tenant, and says so when there is no such registration.
  await page.fill("#shop", "S1");
  await page.fill("#invoice", "I1");
  await page.selectOption("#tenant", "test");
  await page.click("#lookup");
  await page.waitForSelector("#lookup-result dl", { timeout: 10000 });
  const status = await page.locator("#lookup-result").innerText();
  check(status.includes("Registration is Active") && status.includes("TiresLeft"), "status lookup: " + status);
  check(!status.includes("v3"), "without a v3 token, no v3 part: " + status);
  // What is stored, folded until opened: the registration as the GET answers it.
  const stored = page.locator("#lookup-result details.stored");
  check((await stored.count()) === 1 && (await stored.locator("summary").innerText()) === "Registration",
        "the stored records: " + (await stored.allInnerTexts()));
  await stored.locator("summary").click();
  const registration = await stored.innerText();
  check(/ShopID\s+S1/.test(registration) && /CustomerID\s+C1/.test(registration) && /Empty: .*VIN/.test(registration),
        "the stored registration: " + registration);

  // With a v3 token (the sandbox: the test tenant), the same lookup shows its v3 id and metadata.
  await page.fill("#v3token", V3_TOKEN);
  await page.click("#lookup");
  await page.waitForSelector("#lookup-result h3 + dl", { timeout: 10000 });
  const both = await page.locator("#lookup-result").innerText();
  check(/id\s+[0-9a-f]{24}\b/.test(both) && /isActive\s+true/.test(both) && /availableTiresCount\s+4/.test(both),
        "v3 lookup: " + both);
  check(both.includes("https://sandbox.gw.example/api/v3"), "the v3 token's audience is shown: " + both);
  // A v3 token the server refuses says why, beside the v2 answer.
  await page.fill("#v3token", "not-a-token");
  await page.click("#lookup");
  await page.waitForSelector("#lookup-result p.error", { timeout: 10000 });
  const refused = await page.locator("#lookup-result").innerText();
  check(refused.includes("v3:") && refused.includes("TiresLeft"), "refused v3 token: " + refused);
  await page.fill("#v3token", "");

  // Asked of live, the test tenant's registration: not there, and where it is said.
  await page.selectOption("#tenant", "live");
  await page.click("#lookup");
  await page.waitForSelector("#lookup-result p.elsewhere", { timeout: 10000 });
  const elsewhere = await page.locator("#lookup-result").innerText();
  check(elsewhere.includes("No registration") && elsewhere.includes("But your test tenant has this registration."),
        "where the registration is instead: " + elsewhere);

  await page.fill("#invoice", "NOPE");
  await page.click("#lookup");
  await page.waitForSelector("#lookup-result p", { timeout: 10000 });
  check((await page.locator("#lookup-result").innerText()).includes("No registration"), "no-match lookup");

  if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT, fullPage: true });

  // Emptying the test tenant asks first; declined, nothing changes; accepted, it is empty and
  // live is as it was.
  page.once("dialog", (d) => d.dismiss());
  await page.click("#test-reset");
  check((await page.locator("#test-batches tr.batch").count()) === testRows, "a declined reset changed the list");
  page.once("dialog", (d) => {
    check(d.message().includes(COMPANY + "_test") && d.message().includes("Live data is not touched"), "the question: " + d.message());
    d.accept();
  });
  await page.click("#test-reset");
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("is empty"), null, { timeout: 10000 });
  check((await page.locator("#test-batches tr.batch").count()) === 0 && (await page.locator("#test-batches").innerText()).includes("No batches yet"),
        "the test tenant's batches after the reset: " + (await page.locator("#test-batches").innerText()));
  check((await page.locator("#live-batches tr.batch").count()) >= 1, "live lost its batches");

  // A bad token gets the server's reason, not a blank page.
  await page.fill("#token", "not-a-token");
  await page.click("#load");
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("not a well-formed JWT"),
                             null, { timeout: 10000 });

  check(problems.length === 0, problems.join("\n"));
  console.log("console page: batches listed and filtered by status, rejected record and warnings shown, CSV downloaded, status lookup answered through v2 and v3, a registration elsewhere said, the test tenant emptied");
} finally {
  await browser.close();
}
