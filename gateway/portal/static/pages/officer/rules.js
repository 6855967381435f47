// The municipality's rules: the version in force, proposed changes with the time they take
// effect, and the history of every change.
import { api, boot, errorBox, fill, h, kst, t, table, won } from "/portal/static/portal.js";

const MONEY = new Set(["cashbackMonthlyBase", "holdingCap", "institutionPaymentCap", "monthlyPurchaseCap", "giftSendCap", "giftReceiveCap"]);
const value = (name, v) => (MONEY.has(name) ? won(v) : name.endsWith("Bps") ? `${(Number(v) / 100).toFixed(2)}%` : String(v));

const context = await boot("officer");
if (context) {
  const { token } = context;
  const current = h("section", { "aria-labelledby": "h-current" }, h("h2", { id: "h-current" }, t("rules.current")));
  const pending = h("section", { "aria-labelledby": "h-pending" }, h("h2", { id: "h-pending" }, t("rules.pending")));
  const history = h("section", { "aria-labelledby": "h-history" }, h("h2", { id: "h-history" }, t("rules.history")));
  fill("#content", current, pending, history);
  try {
    const view = await api(`/v1/tokens/${token}/rules`);
    const fields = (rules) => Object.entries(rules || {}).map(([name, v]) => ({ name, v }));
    current.append(
      h("p", {}, `${t("rules.version")} ${view.current?.version ?? "—"} · ${kst(view.current?.block_time)}`),
      table([{ label: t("rules.field"), value: (r) => r.name }, { label: t("rules.value"), value: (r) => value(r.name, r.v), num: true }],
        fields(view.current?.rules), { pageSize: 20 }),
    );
    pending.append(
      table(
        [
          { label: t("rules.version"), value: (c) => String(c.version), num: true },
          { label: t("rules.effective"), value: (c) => kst(c.effective_at) },
          { label: t("rules.field"), value: (c) => fields(c.rules).filter((f) => view.current?.rules?.[f.name] !== f.v).map((f) => `${f.name}: ${value(f.name, f.v)}`).join(", ") },
        ],
        view.pending,
      ),
    );
    history.append(
      table(
        [
          { label: t("audit.time"), value: (c) => kst(c.block_time) },
          { label: t("rules.version"), value: (c) => String(c.version), num: true },
          { label: t("rules.action"), value: (c) => c.action },
          { label: t("rules.effective"), value: (c) => (c.effective_at ? kst(c.effective_at) : "—") },
        ],
        view.history,
      ),
    );
  } catch (error) {
    current.append(errorBox(error));
  }
}
