// A municipality's policy programs and the distribution jobs behind them.
import { api, boot, count, errorBox, fill, h, kst, kstDay, link, progress, t, table, won } from "/portal/static/portal.js";

const context = await boot("officer");
if (context) {
  const { token } = context;
  const list = h("section", { "aria-labelledby": "h-list" }, h("h2", { id: "h-list" }, t("page.officer.programs")));
  fill("#content", list, h("p", {}, h("a", { href: link("/portal/officer/create", token) }, t("page.officer.create"))));
  try {
    const programs = await api(`/v1/tokens/${token}/programs`);
    list.append(
      table(
        [
          { label: t("prog.id"), value: (p) => h("a", { href: link("/portal/officer/program", token, { id: p.program_id }) }, `#${p.program_id}`) },
          { label: t("prog.ref"), value: (p) => p.ref },
          { label: t("prog.budget"), value: (p) => won(p.budget), num: true },
          { label: t("prog.granted"), value: (p) => won(p.granted), num: true },
          { label: t("prog.claimed"), value: (p) => count(p.claimed_count), num: true },
          { label: t("prog.spent"), value: (p) => won(p.spent), num: true },
          { label: t("prog.progress"), value: (p) => progress(t("prog.progress"), p.progress_pct) },
          { label: t("prog.expiry"), value: (p) => kstDay(p.expiry) },
          { label: t("create.state"), value: (p) => (p.closed ? t("prog.closed") : t("prog.open")) },
        ],
        programs,
        { empty: t("prog.none"), caption: t("page.officer.programs") },
      ),
    );
  } catch (error) {
    list.append(errorBox(error));
  }
}
