// The staff action log (hash-chained, anchored on chain) and its verification.
import { api, boot, errorBox, fill, h, kst, short, t, table } from "/portal/static/portal.js";

const context = await boot("auditor");
if (context) {
  const { token } = context;
  const check = h("section", { "aria-labelledby": "h-check" }, h("h2", { id: "h-check" }, t("audit.log_verify")));
  const list = h("section", { "aria-labelledby": "h-log" }, h("h2", { id: "h-log" }, t("page.auditor.staff-log")));
  fill("#content", check, list);
  try {
    const v = await api(`/v1/audit/${token}/staff-log/verify`);
    check.append(h("p", { class: v.ok ? "ok" : "bad", id: "verdict" }, v.ok ? t("app.ok") : `${t("app.failed")}: ${v.problem || ""}`));
  } catch (error) {
    check.append(errorBox(error));
  }
  try {
    const entries = await api(`/v1/audit/${token}/staff-log`);
    list.append(
      table(
        [
          { label: t("audit.time"), value: (e) => kst(e.at) },
          { label: t("audit.actor"), value: (e) => h("code", { title: e.actor }, short(e.actor)) },
          { label: t("audit.role"), value: (e) => e.role || "" },
          { label: t("audit.action"), value: (e) => e.action },
        ],
        entries,
        { caption: t("page.auditor.staff-log") },
      ),
    );
  } catch (error) {
    list.append(errorBox(error));
  }
}
