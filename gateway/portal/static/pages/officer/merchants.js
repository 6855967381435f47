// The municipality's merchants: search, status, tier, category; a registrar suspends,
// reactivates, bans or re-tiers one by signing the transaction with their own wallet.
import { M, api, boot, count, errorBox, fill, h, kst, state, status, t, table, walletProvider } from "/portal/static/portal.js";

const context = await boot("officer");
if (context) {
  const { token, me } = context;
  const registrar = (me.roles[token] || []).includes("MERCHANT_REGISTRAR_ROLE");
  const search = h("input", { id: "search", placeholder: "0x…", maxlength: "42" });
  const statusFilter = h("select", { id: "status-filter" }, h("option", { value: "" }, "—"),
    ...["active", "suspended", "cancelled"].map((s) => h("option", { value: s }, M[`state.${s}`])));
  const tier = h("input", { id: "tier-filter", type: "number", min: "0", max: "255" });
  const category = h("input", { id: "category-filter", inputmode: "numeric" });
  const results = h("div", { id: "merchants" });
  const go = h("button", { type: "button", class: "primary", id: "find" }, t("merch.search"));
  fill(
    "#content",
    h("section", { "aria-labelledby": "h-find" }, h("h2", { id: "h-find" }, t("page.officer.merchants")),
      h("div", { class: "form-row" },
        h("label", { for: "search" }, t("merch.search")), search,
        h("label", { for: "status-filter" }, t("merch.status")), statusFilter,
        h("label", { for: "tier-filter" }, t("merch.tier")), tier,
        h("label", { for: "category-filter" }, t("merch.category")), category, go),
      h("p", { class: "hint" }, t("merch.registrar_only"))),
    results,
  );

  // Suspending and banning stop a shop's takings: asked once more, naming the shop.
  const act = async (merchant, action, extra = {}) => {
    if ((action === "suspend" || action === "ban") && !window.confirm(t(`merch.confirm_${action}`, { merchant }))) {
      return;
    }
    try {
      const params = new URLSearchParams({ action, ...extra });
      const call = await api(`/v1/tokens/${token}/merchants/${merchant}/call?${params}`);
      const provider = await walletProvider();
      const wallet = await import("/portal/static/build/wallet.js");
      const from = await wallet.connect(provider);
      status(t("create.committing"));
      const hash = await wallet.sendTransaction(provider, from, call.to, call.data);
      await wallet.waitForReceipt(provider, hash);
      status("");
      setTimeout(find, 1500); // the index follows within a block or two
    } catch (error) {
      status("");
      results.prepend(errorBox(error));
    }
  };

  const actions = (m) => {
    if (!registrar) return "";
    const newTier = h("input", { type: "number", min: "0", max: "255", value: String(m.tier), "aria-label": t("merch.set_tier"), class: "tier-input" });
    return h("span", { class: "actions" },
      m.status === "active"
        ? h("button", { type: "button", onclick: () => act(m.merchant, "suspend") }, t("merch.suspend"))
        : h("button", { type: "button", onclick: () => act(m.merchant, "reactivate") }, `✓ ${t("merch.reactivate")}`),
      " ",
      h("button", { type: "button", onclick: () => act(m.merchant, "ban") }, t("merch.ban")),
      " ", newTier,
      h("button", { type: "button", onclick: () => act(m.merchant, "tier", { tier: newTier.value }) }, t("merch.set_tier")));
  };

  const find = async () => {
    const params = new URLSearchParams({ limit: "200" });
    if (search.value.trim()) params.set("search", search.value.trim());
    if (statusFilter.value) params.set("status", statusFilter.value);
    if (tier.value !== "") params.set("tier", tier.value);
    if (category.value.trim()) params.set("category", category.value.trim());
    try {
      const page = await api(`/v1/tokens/${token}/merchants?${params}`);
      fill(results, h("p", {}, `${t("fig.merchants")} ${count(page.total)}`),
        table(
          [
            { label: t("merch.address"), value: (m) => h("code", { title: m.merchant }, m.merchant) },
            { label: t("merch.category"), value: (m) => String(m.category), num: true },
            { label: t("merch.tier"), value: (m) => String(m.tier), num: true },
            { label: t("merch.status"), value: (m) => state(m.status) },
            { label: t("merch.banned_until"), value: (m) => (m.banned_until ? kst(m.banned_until) : "—") },
            { label: t("merch.actions"), value: actions },
          ],
          page.items,
          { caption: t("page.officer.merchants") },
        ));
    } catch (error) {
      fill(results, errorBox(error));
    }
  };
  go.addEventListener("click", find);
  find();
}
