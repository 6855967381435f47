// A resident's wallet: balances by pocket (soonest expiry first), this month's remaining caps,
// history and who else read their data. All of it is the resident's own data (policy "self").
import { api, boot, errorBox, fill, h, kst, short, t, table, won } from "/portal/static/portal.js";

const context = await boot("resident");
if (context) {
  const me = context.me.address;
  const symbols = Object.fromEntries(context.municipalities.map((m) => [m.token.toLowerCase(), m]));
  const cityName = (token) => symbols[token.toLowerCase()]?.name || short(token);
  const balances = h("section", { "aria-labelledby": "h-balances" }, h("h2", { id: "h-balances" }, t("res.balances")));
  const caps = h("section", { "aria-labelledby": "h-caps" }, h("h2", { id: "h-caps" }, t("res.caps")));
  const history = h("section", { "aria-labelledby": "h-history" }, h("h2", { id: "h-history" }, t("res.history")));
  const looked = h("section", { "aria-labelledby": "h-looked" }, h("h2", { id: "h-looked" }, t("res.who_looked")));
  fill("#content", balances, caps, history, looked);

  try {
    const held = await api(`/v1/wallets/${me}/balances`);
    // Every pocket of every city in one list, the soonest expiry first; the general pocket
    // (purchased money) has no expiry and comes last.
    const rows = [];
    for (const b of held) {
      for (const p of b.pockets) rows.push({ city: cityName(b.token), name: t("res.program", { id: p.program_id }), amount: p.amount, expiry: p.expiry });
      rows.push({ city: cityName(b.token), name: t("res.general"), amount: b.general, expiry: null });
    }
    rows.sort((a, b) => (a.expiry ?? Infinity) - (b.expiry ?? Infinity));
    balances.append(
      table(
        [
          { label: t("app.city"), value: (r) => r.city },
          { label: t("res.pocket"), value: (r) => r.name },
          { label: t("res.balance"), value: (r) => won(r.amount), num: true },
          { label: t("res.expires"), value: (r) => (r.expiry ? kst(r.expiry) : t("res.never")) },
        ],
        rows,
        { caption: t("res.balances") },
      ),
    );
    const capRows = [];
    for (const b of held) {
      try {
        const c = await api(`/v1/wallets/${me}/caps?token=${b.token}`);
        capRows.push({ city: cityName(b.token), ...c });
      } catch (error) {
        caps.append(errorBox(error));
      }
    }
    caps.append(
      table(
        [
          { label: t("app.city"), value: (r) => r.city },
          { label: t("res.purchase_left"), value: (r) => won(r.purchase_left), num: true },
          { label: t("res.gift_left"), value: (r) => won(r.gift_sent_left), num: true },
        ],
        capRows,
      ),
    );
  } catch (error) {
    balances.append(errorBox(error));
  }

  try {
    const page = await api(`/v1/wallets/${me}/history?limit=200`);
    history.append(
      table(
        [
          { label: t("audit.time"), value: (r) => kst(r.block_time) },
          { label: t("app.city"), value: (r) => cityName(r.token) },
          { label: t("res.kind"), value: (r) => r.kind },
          { label: t("res.amount"), value: (r) => (r.direction === "out" ? "-" : "+") + won(r.amount), num: true },
          { label: t("res.counterparty"), value: (r) => h("code", { title: r.counterparty || "" }, short(r.counterparty)) },
        ],
        page.items,
        { caption: t("res.history") },
      ),
    );
  } catch (error) {
    history.append(errorBox(error));
  }

  try {
    const log = await api("/v1/me/access-log");
    looked.append(
      table(
        [
          { label: t("audit.time"), value: (r) => kst(r.at) },
          { label: t("audit.actor"), value: (r) => h("code", { title: r.actor }, short(r.actor)) },
          { label: t("audit.role"), value: (r) => r.role || "" },
          { label: t("audit.what"), value: (r) => r.what },
        ],
        log,
        { empty: t("res.nobody"), caption: t("res.who_looked") },
      ),
    );
  } catch (error) {
    looked.append(errorBox(error));
  }
}
