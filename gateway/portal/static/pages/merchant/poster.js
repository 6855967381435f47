// The printable QR poster: the city's logo text, the shop's name and its static EIP-681
// payment code (made by the gateway with the wallet SDK's encoder), A4 or A5.
import { boot, errorBox, fill, h, t } from "/portal/static/portal.js";

const context = await boot("merchant");
if (context) {
  const { token, me, city } = context;
  const saved = localStorage.getItem(`dongne.shop.${me.address}`) || "";
  const name = h("input", { id: "shop-name", value: saved, maxlength: "40" });
  const size = h("select", { id: "size" }, h("option", { value: "a4" }, "A4"), h("option", { value: "a5" }, "A5"));
  const poster = h("article", { class: "poster a4", id: "poster", "aria-label": t("page.merchant.poster") });
  let latest = 0;
  const render = async () => {
    // The name is read once: an older render finishing late must not show the new name
    // beside its old code, so only the latest render may fill the poster.
    const mine = ++latest;
    const shop = name.value.trim();
    localStorage.setItem(`dongne.shop.${me.address}`, shop);
    poster.className = `poster ${size.value}`;
    const params = new URLSearchParams({ token, merchant: me.address });
    if (shop) params.set("label", shop);
    try {
      const answer = await fetch(`/portal/qr.svg?${params}`);
      if (mine !== latest) return;
      if (!answer.ok) throw Object.assign(new Error((await answer.json()).detail), { code: "InvalidRequest" });
      const uri = answer.headers.get("x-payment-uri");
      const src = URL.createObjectURL(await answer.blob());
      if (mine !== latest) return;
      fill(
        poster,
        h("div", { class: "city-logo" }, city.name),
        h("p", { class: "shop" }, shop || me.address.slice(0, 10)),
        h("p", {}, t("merch.poster_title")),
        h("div", { class: "qr" }, h("img", { id: "qr", src, alt: uri, width: "400", height: "400" })),
        h("p", {}, t("merch.scan")),
        h("p", { class: "uri", id: "uri" }, uri),
      );
    } catch (error) {
      fill(poster, errorBox(error));
    }
  };
  name.addEventListener("change", render);
  size.addEventListener("change", render);
  fill(
    "#content",
    h(
      "div",
      { class: "form-row no-print" },
      h("label", { for: "shop-name" }, t("merch.shop_name")), name,
      h("label", { for: "size" }, t("merch.size")), size,
      h("button", { type: "button", class: "primary", onclick: () => window.print() }, t("merch.print")),
    ),
    poster,
  );
  render();
}
