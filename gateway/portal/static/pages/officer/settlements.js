// Settlement batches for the bank: issued batches, each downloadable as the bank file.
import { api, boot, count, download, errorBox, fill, h, kst, t, table, won } from "/portal/static/portal.js";

const context = await boot("officer");
if (context) {
  const { token } = context;
  const list = h("section", { "aria-labelledby": "h-batches" }, h("h2", { id: "h-batches" }, t("settle.batches")));
  fill("#content", list);
  try {
    const batches = await api(`/v1/audit/${token}/settlements`);
    list.append(
      table(
        [
          { label: t("settle.reference"), value: (b) => h("code", {}, b.reference) },
          { label: t("audit.time"), value: (b) => `${kst(b.since)} – ${kst(b.until)}` },
          { label: t("settle.count"), value: (b) => count(b.redemptions), num: true },
          { label: t("settle.total"), value: (b) => won(b.total), num: true },
          { label: t("audit.log_verify"), value: (b) => h("span", { class: b.reconciled ? "ok" : "bad" }, b.reconciled ? t("app.ok") : t("app.failed")) },
          { label: t("app.download"), value: (b) => h("button", { type: "button", onclick: () => download(`/v1/audit/${token}/settlements/${b.reference}?format=csv`, `${b.reference}.csv`) }, `${t("app.download")} CSV`) },
        ],
        batches,
      ),
    );
  } catch (error) {
    list.append(errorBox(error));
  }
}
