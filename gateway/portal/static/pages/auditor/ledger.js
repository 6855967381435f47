// The ledger export: downloaded with the session, its trailer (row count and SHA-256 of the
// rows) checked here before the auditor keeps it, as ledger.check_trailer does.
import { api, boot, errorBox, fill, h, status, t } from "/portal/static/portal.js";

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// The row count when the trailer matches; an Error saying why not otherwise.
export async function checkTrailer(text) {
  const trimmed = text.replace(/\n+$/, "");
  const cut = trimmed.lastIndexOf("\n");
  const body = `${trimmed.slice(0, cut)}\n`;
  const last = trimmed.slice(cut + 1);
  const match = /^#trailer,rows=(\d+),sha256=([0-9a-f]{64})$/.exec(last);
  if (!match) throw new Error("the export has no trailer: it was cut");
  if ((await sha256Hex(body)) !== match[2]) throw new Error("the export does not match its trailer");
  return Number(match[1]);
}

const context = await boot("auditor");
if (context) {
  const { token } = context;
  const result = h("div", { id: "result" });
  const run = h("button", { type: "button", class: "primary", id: "run" }, t("audit.ledger_get"));
  fill("#content", h("section", { "aria-labelledby": "h-ledger" }, h("h2", { id: "h-ledger" }, t("page.auditor.ledger")), run, result));
  run.addEventListener("click", async () => {
    run.disabled = true;
    status(t("app.loading"));
    try {
      const answer = await api(`/v1/audit/${token}/ledger?format=csv`, { raw: true });
      const text = await answer.text();
      let verdict;
      try {
        const rows = await checkTrailer(text);
        verdict = h("p", { class: "ok", id: "verdict", dataset: { rows: String(rows) } }, `${t("audit.trailer_ok")} · ${t("audit.rows")} ${rows}`);
      } catch (error) {
        verdict = h("p", { class: "bad", id: "verdict" }, `${t("audit.trailer_bad")}: ${error.message}`);
      }
      const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
      const name = `ledger-${token}.csv`;
      fill(result, verdict, h("a", { href: url, download: name, id: "save" }, `${t("app.download")} ${name}`));
    } catch (error) {
      fill(result, errorBox(error));
    } finally {
      status("");
      run.disabled = false;
    }
  });
}
