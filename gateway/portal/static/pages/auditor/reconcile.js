// Reconciliation of the index against the chain at the index's block, differences listed.
import { api, boot, count, errorBox, figures, fill, h, status, t, table, won } from "/portal/static/portal.js";

const context = await boot("auditor");
if (context) {
  const { token } = context;
  const result = h("div", { id: "result" });
  const run = h("button", { type: "button", class: "primary", id: "run" }, t("audit.reconcile_run"));
  fill("#content", h("section", { "aria-labelledby": "h-run" }, h("h2", { id: "h-run" }, t("page.auditor.reconcile")), run, result));
  run.addEventListener("click", async () => {
    run.disabled = true;
    status(t("app.loading"));
    try {
      const r = await api(`/v1/audit/${token}/reconcile`);
      fill(
        result,
        h("p", { class: r.ok ? "ok" : "bad", id: "verdict" }, r.ok ? t("app.ok") : t("app.failed")),
        figures([
          [t("fig.as_of"), String(r.block_number)],
          [`${t("fig.circulating")} (index)`, won(r.total_supply_index)],
          [`${t("fig.circulating")} (chain)`, won(r.total_supply_chain)],
          [t("fig.holders"), `${count(r.holders_checked)} / ${count(r.holders)}`],
          [t("fig.programs"), count(r.programs_checked)],
        ]),
        h("h3", {}, t("audit.differences")),
        table(
          [
            { label: "kind", value: (d) => d.kind },
            { label: "key", value: (d) => h("code", {}, d.key) },
            { label: "index", value: (d) => String(d.index_value), num: true },
            { label: "chain", value: (d) => String(d.chain_value), num: true },
          ],
          r.differences,
          { empty: t("audit.no_differences") },
        ),
      );
    } catch (error) {
      fill(result, errorBox(error));
    } finally {
      status("");
      run.disabled = false;
    }
  });
}
