// Distribution verification of any program: every grant against the committed root.
import { api, boot, count, errorBox, figures, fill, h, status, t, table, won } from "/portal/static/portal.js";

const context = await boot("auditor");
if (context) {
  const { token } = context;
  const result = h("div", { id: "result" });
  const select = h("select", { id: "program" });
  const run = h("button", { type: "button", class: "primary", id: "run" }, t("audit.verify_run"));
  fill("#content", h("section", { "aria-labelledby": "h-verify" }, h("h2", { id: "h-verify" }, t("page.auditor.verify")),
    h("div", { class: "form-row" }, h("label", { for: "program" }, t("audit.program")), select, run), result));
  try {
    const programs = await api(`/v1/tokens/${token}/programs`);
    select.replaceChildren(...programs.map((p) => h("option", { value: p.program_id }, `#${p.program_id} ${p.ref}`)));
    if (!programs.length) {
      run.disabled = true;
      fill(result, h("p", { class: "empty" }, t("prog.none")));
    }
  } catch (error) {
    fill(result, errorBox(error));
  }
  run.addEventListener("click", async () => {
    status(t("app.loading"));
    try {
      const v = await api(`/v1/audit/${token}/programs/${select.value}/verify`);
      const ok = v.problems.length === 0;
      fill(
        result,
        h("p", { class: ok ? "ok" : "bad", id: "verdict" }, ok ? t("app.ok") : t("app.failed")),
        figures([
          [t("prog.root"), h("code", {}, v.root)],
          [t("prog.budget"), won(v.budget)],
          [t("prog.granted"), won(v.granted)],
          [t("prog.claimed"), count(v.grants)],
          ["leaves", v.leaves === null ? "—" : count(v.leaves)],
          ["list", v.list_source],
        ]),
        table([{ label: t("audit.differences"), value: (p) => p }], v.problems, { empty: t("app.ok") }),
      );
    } catch (error) {
      fill(result, errorBox(error));
    } finally {
      status("");
    }
  });
}
