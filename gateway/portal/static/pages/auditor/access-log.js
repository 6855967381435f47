// The personal-data access log: every read of a person's or a shop's data by someone else.
import { api, boot, errorBox, fill, h, kst, short, t, table } from "/portal/static/portal.js";

const context = await boot("auditor");
if (context) {
  const { token } = context;
  const list = h("section", { "aria-labelledby": "h-log" }, h("h2", { id: "h-log" }, t("page.auditor.access-log")));
  fill("#content", list);
  try {
    const entries = await api(`/v1/audit/${token}/access-log`);
    list.append(
      table(
        [
          { label: t("audit.time"), value: (e) => kst(e.at) },
          { label: t("audit.actor"), value: (e) => h("code", { title: e.actor }, short(e.actor)) },
          { label: t("audit.role"), value: (e) => e.role || "" },
          { label: t("audit.subject"), value: (e) => h("code", { title: e.subject }, short(e.subject)) },
          { label: t("audit.what"), value: (e) => e.what },
        ],
        entries,
        { caption: t("page.auditor.access-log") },
      ),
    );
  } catch (error) {
    list.append(errorBox(error));
  }
}
