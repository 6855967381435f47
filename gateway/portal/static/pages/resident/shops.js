// The public directory of a city's shops: anyone, signed in or not, searches registered and
// active merchants by name and KSIC category. The API answers public fields only.
import { api, boot, errorBox, fill, h, short, t, table } from "/portal/static/portal.js";

const context = await boot("anyone");
if (context) {
  const municipalities = await api("/v1/tokens");
  const asked = new URL(window.location.href).searchParams.get("token")?.toLowerCase();
  const city = h("select", { id: "shops-city" },
    ...municipalities.map((m) => h("option", { value: m.token.toLowerCase(), selected: m.token.toLowerCase() === asked ? "" : null }, m.name)));
  const query = h("input", { id: "shops-q", type: "search", maxlength: "100" });
  const category = h("input", { id: "shops-category", inputmode: "numeric", maxlength: "6" });
  const go = h("button", { type: "submit", class: "primary", id: "shops-find" }, t("shops.search"));
  const results = h("div", { id: "shops" });
  const form = h("form", { class: "form-row", role: "search" },
    h("label", { for: "shops-city" }, t("app.city")), city,
    h("label", { for: "shops-q" }, t("shops.name")), query,
    h("label", { for: "shops-category" }, t("shops.category")), category, go);
  fill("#content", form, results);

  const find = async () => {
    const params = new URLSearchParams({ limit: "100" });
    if (query.value.trim()) params.set("q", query.value.trim());
    if (category.value.trim()) params.set("category", category.value.trim());
    try {
      const page = await api(`/v1/tokens/${city.value}/directory?${params}`);
      fill(results, table(
        [
          { label: t("shops.name"), value: (s) => s.business_name },
          { label: t("shops.address"), value: (s) => s.address },
          { label: t("shops.category"), value: (s) => String(s.category) },
          { label: t("shops.market"), value: (s) => (s.market ? t("shops.market_yes") : "") },
          { label: t("shops.wallet"), value: (s) => h("code", { title: s.merchant }, short(s.merchant)) },
        ],
        page.items,
        { caption: t("page.resident.shops"), empty: t("shops.none") },
      ));
    } catch (error) {
      fill(results, errorBox(error));
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    find();
  });
  if (municipalities.length) find();
}
