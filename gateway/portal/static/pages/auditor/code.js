// Code verification: the pinned sources recompiled and compared with every deployed contract.
import { api, boot, errorBox, fill, h, kst, short, status, t, table } from "/portal/static/portal.js";

const context = await boot("auditor");
if (context) {
  const { token } = context;
  const result = h("div", { id: "result" });
  const run = h("button", { type: "button", class: "primary", id: "run" }, t("audit.code_run"));
  fill("#content", h("section", { "aria-labelledby": "h-code" }, h("h2", { id: "h-code" }, t("page.auditor.code")), run, result));
  run.addEventListener("click", async () => {
    run.disabled = true;
    status(t("app.loading"));
    try {
      const r = await api(`/v1/audit/${token}/code`);
      fill(
        result,
        h("p", { class: r.ok ? "ok" : "bad", id: "verdict" }, `${r.ok ? t("app.ok") : t("app.failed")} · solc ${r.compiler} · ${kst(r.checked_at)}`),
        table(
          [
            { label: "contract", value: (c) => `${c.label} [${c.contract}]` },
            { label: t("merch.address"), value: (c) => h("code", { title: c.address }, short(c.address)) },
            { label: t("create.state"), value: (c) => h("span", { class: c.status === "match" ? "ok" : "bad" }, c.status) },
            { label: "detail", value: (c) => c.detail },
          ],
          r.contracts,
          { pageSize: 20 },
        ),
        table(
          [
            { label: "contract", value: (c) => c.contract },
            { label: "what", value: (c) => c.what },
            { label: "value", value: (c) => h("code", {}, c.actual) },
            { label: t("create.state"), value: (c) => h("span", { class: c.ok ? "ok" : "bad" }, c.ok ? t("app.ok") : t("app.failed")) },
          ],
          r.checks,
          { pageSize: 20 },
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
