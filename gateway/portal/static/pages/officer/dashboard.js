// The city officer's dashboard: the municipality's figures (GET /v1/tokens/{token}/dashboard),
// daily charts over time (GET /v1/tokens/{token}/series, KST days) and each program's progress.
import { api, boot, count, errorBox, figures, fill, h, kstDay, link, progress, t, table, won } from "/portal/static/portal.js";

const context = await boot("officer");
if (context) {
  const { token } = context;
  const tiles = h("section", { "aria-labelledby": "h-figures" }, h("h2", { id: "h-figures" }, context.city.name));
  const charts = h("section", { "aria-labelledby": "h-charts" }, h("h2", { id: "h-charts" }, t("chart.days", { days: 30 })));
  const programs = h("section", { "aria-labelledby": "h-programs" }, h("h2", { id: "h-programs" }, t("page.officer.programs")));
  fill("#content", tiles, charts, programs);
  try {
    const d = await api(`/v1/tokens/${token}/dashboard`);
    tiles.append(
      figures([
        [t("fig.sales_face"), won(d.issued_face), "issued_face"],
        [t("fig.sales_paid"), won(d.issued_paid), "issued_paid"],
        [t("fig.subsidy"), won(d.subsidy), "subsidy"],
        [t("fig.payments"), count(d.payments), "payments"],
        [t("fig.payment_volume"), won(d.payment_volume), "payment_volume"],
        [t("fig.cashback"), won(d.cashback), "cashback"],
        [t("fig.gifts"), count(d.gifts), "gifts"],
        [t("fig.redeemed"), won(d.redeemed), "redeemed"],
        [t("fig.circulating"), won(d.circulating), "circulating"],
        [t("fig.holders"), count(d.holders), "holders"],
        [t("fig.merchants"), count(d.merchants), "merchants"],
        [t("fig.programs"), count(d.programs), "programs"],
      ]),
      h("p", { class: "as-of" }, `${t("fig.as_of")} ${d.as_of_block}`),
    );
  } catch (error) {
    tiles.append(errorBox(error));
  }
  try {
    const series = await api(`/v1/tokens/${token}/series?days=30`);
    const grid = h("div", { class: "charts" });
    charts.append(grid);
    const days = series.days.map((b) => b.day);
    const chart = (title, lines, money) => {
      const box = h("div", { class: "chart", role: "img", "aria-label": `${title}: ${lines.map((l) => t(`fig.${l}`)).join(", ")}` });
      grid.append(h("figure", { class: "card" }, h("figcaption", {}, title), box));
      const instance = window.echarts.init(box, null, { renderer: "svg" });
      instance.setOption({
        animation: false,
        tooltip: { trigger: "axis", valueFormatter: money ? (v) => won(Math.round(v)) : (v) => count(v) },
        legend: { top: 0 },
        grid: { left: 70, right: 20, top: 30, bottom: 30 },
        xAxis: { type: "category", data: days },
        yAxis: { type: "value", axisLabel: { formatter: money ? (v) => won(Math.round(v)) : (v) => count(v) } },
        series: lines.map((name) => ({ name: t(`fig.${name}`), type: name.endsWith("s") && !money ? "bar" : "line", data: series.days.map((b) => b[name]) })),
      });
    };
    chart(t("chart.sales"), ["sales_face", "sales_paid", "subsidy"], true);
    chart(t("chart.payments"), ["payment_volume", "cashback"], true);
    chart(t("chart.flows"), ["gift_volume", "redeemed"], true);
    chart(t("chart.stocks"), ["circulating"], true);
    chart(t("fig.holders"), ["payments", "holders", "merchants"], false);
  } catch (error) {
    charts.append(errorBox(error));
  }
  try {
    const list = await api(`/v1/tokens/${token}/programs`);
    const now = Date.now() / 1000;
    programs.append(
      table(
        [
          { label: t("prog.id"), value: (p) => h("a", { href: link("/portal/officer/program", token, { id: p.program_id }) }, `#${p.program_id}`) },
          { label: t("prog.budget"), value: (p) => won(p.budget), num: true },
          { label: t("prog.granted"), value: (p) => won(p.granted), num: true },
          { label: t("prog.claimed"), value: (p) => count(p.claimed_count), num: true },
          { label: t("prog.spent"), value: (p) => won(p.spent), num: true },
          { label: t("prog.returned"), value: (p) => won(p.returned), num: true },
          { label: t("prog.progress"), value: (p) => progress(t("prog.progress"), p.progress_pct) },
          { label: t("prog.time"), value: (p) => progress(`${t("prog.expiry")} ${kstDay(p.expiry)}`, (100 * (now - p.start_time)) / Math.max(1, p.expiry - p.start_time)) },
        ],
        list,
        { empty: t("prog.none"), caption: t("page.officer.programs") },
      ),
    );
  } catch (error) {
    programs.append(errorBox(error));
  }
}
