// Fraud flags of the last 30 days with their evidence rows, and the thresholds applied.
import { api, boot, errorBox, fill, h, kst, short, t, table, won } from "/portal/static/portal.js";

const context = await boot("officer");
if (context) {
  const { token } = context;
  const flags = h("section", { "aria-labelledby": "h-flags" }, h("h2", { id: "h-flags" }, t("fraud.flags")));
  const limits = h("section", { "aria-labelledby": "h-thresholds" }, h("h2", { id: "h-thresholds" }, t("fraud.thresholds")));
  fill("#content", flags, limits);
  const until = Math.floor(Date.now() / 1000) + 60;
  const since = until - 30 * 86400;
  try {
    const found = await api(`/v1/audit/${token}/fraud?since=${since}&until=${until}`);
    flags.append(
      table(
        [
          { label: t("fraud.rule"), value: (f) => f.rule },
          { label: t("merch.address"), value: (f) => h("code", { title: f.subject }, short(f.subject)) },
          { label: t("res.amount"), value: (f) => won(f.amount), num: true },
          { label: t("audit.time"), value: (f) => `${kst(f.first_time)} – ${kst(f.last_time)}` },
          {
            label: t("fraud.evidence"),
            value: (f) =>
              h("details", {}, h("summary", {}, f.summary),
                table(
                  [
                    { label: t("res.kind"), value: (e) => e.kind },
                    { label: t("audit.time"), value: (e) => kst(e.block_time) },
                    { label: "from", value: (e) => short(e.sender) },
                    { label: "to", value: (e) => short(e.recipient) },
                    { label: t("res.amount"), value: (e) => won(e.amount), num: true },
                  ],
                  f.evidence,
                  { pageSize: 5 },
                ),
                h("p", {}, `${t("fraud.thresholds")}: ${JSON.stringify(f.thresholds)}`)),
          },
        ],
        found,
      ),
    );
  } catch (error) {
    flags.append(errorBox(error));
  }
  try {
    const thresholds = await api(`/v1/audit/${token}/thresholds`);
    const rows = Object.entries(thresholds).map(([name, v]) => ({ name, v: typeof v === "object" ? JSON.stringify(v) : String(v) }));
    limits.append(table([{ label: t("rules.field"), value: (r) => r.name }, { label: t("rules.value"), value: (r) => r.v }], rows, { pageSize: 20 }));
  } catch (error) {
    limits.append(errorBox(error));
  }
}
