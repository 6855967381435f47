// A merchant's sales today and this month (KST), and its redemptions (환전) for settlement.
import { api, boot, count, errorBox, figures, fill, h, kst, short, t, table, won } from "/portal/static/portal.js";

// Midnight in Korea of today and of the month's first day, as unix seconds.
function kstStarts() {
  const now = new Date(Date.now() + 9 * 3600_000);
  const day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) / 1000 - 9 * 3600;
  const month = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1) / 1000 - 9 * 3600;
  return { day, month };
}

const context = await boot("merchant");
if (context) {
  const { token, me } = context;
  const { day, month } = kstStarts();
  const today = h("section", { "aria-labelledby": "h-today" }, h("h2", { id: "h-today" }, t("merch.today")));
  const monthly = h("section", { "aria-labelledby": "h-month" }, h("h2", { id: "h-month" }, t("merch.month")));
  const settled = h("section", { "aria-labelledby": "h-settle" }, h("h2", { id: "h-settle" }, t("merch.settlement")));
  fill("#content", today, monthly, settled);
  const sales = async (since) => (await api(`/v1/merchants/${me.address}/sales?token=${token}&since=${since}`))[0] || null;
  const tiles = (s) =>
    figures([
      [t("fig.payments"), count(s?.payments || 0), "payments"],
      [t("fig.payment_volume"), won(s?.gross || 0), "gross"],
      [t("merch.net"), won(s?.net || 0), "net"],
      [t("merch.redeemed"), won(s?.redeemed || 0), "redeemed"],
    ]);
  try {
    today.append(tiles(await sales(day)));
    monthly.append(tiles(await sales(month)));
    const all = await api(`/v1/merchants/${me.address}/sales?token=${token}`);
    settled.append(
      table(
        [
          { label: t("fig.redemptions"), value: (s) => count(s.redemptions), num: true },
          { label: t("merch.redeemed"), value: (s) => won(s.redeemed), num: true },
          { label: t("merch.net"), value: (s) => won(s.net), num: true },
          { label: t("audit.time"), value: (s) => kst(s.last_time) },
        ],
        all,
      ),
    );
    // Each redemption, and the settlement batch line that pays it once a batch is issued.
    const history = await api(`/v1/wallets/${me.address}/history?token=${token}&limit=200`);
    const lines = await api(`/v1/merchants/${me.address}/settlements?token=${token}`);
    const lineOf = new Map(lines.flatMap((l) => l.refs.map((ref) => [String(ref).toLowerCase(), l])));
    settled.append(
      table(
        [
          { label: t("audit.time"), value: (r) => kst(r.block_time) },
          { label: t("merch.redeemed"), value: (r) => won(r.amount), num: true },
          { label: t("settle.reference"), value: (r) => h("code", {}, short(String(r.details?.ref ?? ""))) },
          {
            label: t("merch.settlement"),
            value: (r) => {
              const line = lineOf.get(String(r.details?.ref ?? "").toLowerCase());
              return line
                ? h("span", { class: "ok" }, `${t("settle.in_batch")} ${line.line_reference} · ${kst(line.issued_at)}`)
                : t("settle.pending");
            },
          },
        ],
        history.items.filter((r) => r.kind === "redemption"),
        { caption: t("fig.redemptions") },
      ),
    );
  } catch (error) {
    today.append(errorBox(error));
  }
}
