// One program: its figures against budget and time, its root and rules.
import { api, boot, count, errorBox, figures, fill, h, kst, progress, t, won } from "/portal/static/portal.js";

const context = await boot("officer");
if (context) {
  const { token } = context;
  const id = new URL(window.location.href).searchParams.get("id");
  try {
    const p = await api(`/v1/tokens/${token}/programs/${encodeURIComponent(id)}`);
    const now = Date.now() / 1000;
    const elapsed = (100 * (now - p.start_time)) / Math.max(1, p.expiry - p.start_time);
    fill(
      "#content",
      h(
        "section",
        { "aria-labelledby": "h-program", "data-program": p.program_id },
        h("h2", { id: "h-program" }, `#${p.program_id} ${p.ref}`),
        figures([
          [t("prog.budget"), won(p.budget), "budget"],
          [t("prog.granted"), won(p.granted), "granted"],
          [t("prog.claimed"), count(p.claimed_count), "claimed_count"],
          [t("prog.spent"), won(p.spent), "spent"],
          [t("prog.returned"), won(p.returned), "returned"],
          [t("create.state"), p.closed ? t("prog.closed") : t("prog.open"), "state"],
        ]),
        progress(t("prog.progress"), p.progress_pct),
        progress(t("prog.time"), elapsed),
        h(
          "dl",
          { class: "facts" },
          h("dt", {}, t("prog.root")), h("dd", {}, h("code", {}, p.root)),
          h("dt", {}, t("prog.start")), h("dd", {}, kst(p.start_time)),
          h("dt", {}, t("prog.expiry")), h("dd", {}, kst(p.expiry)),
          h("dt", {}, t("prog.categories")), h("dd", {}, p.categories.length ? p.categories.join(", ") : "—"),
        ),
      ),
    );
  } catch (error) {
    fill("#content", errorBox(error));
  }
}
