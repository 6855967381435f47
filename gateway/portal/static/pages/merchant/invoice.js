// A dynamic invoice QR: an amount, a one-time invoice id and an expiry in the EIP-681 URI.
import { boot, errorBox, fill, h, kst, t, won } from "/portal/static/portal.js";

const context = await boot("merchant");
if (context) {
  const { token, me } = context;
  const amount = h("input", { id: "amount", type: "number", min: "1", step: "1", value: "10000", inputmode: "numeric" });
  const out = h("div", { id: "invoice" });
  const make = async () => {
    const params = new URLSearchParams({ token, merchant: me.address, amount: amount.value, minutes: "15" });
    try {
      const answer = await fetch(`/portal/qr.svg?${params}`);
      if (!answer.ok) throw Object.assign(new Error((await answer.json()).detail), { code: "InvalidRequest" });
      const uri = answer.headers.get("x-payment-uri");
      const expiry = Number(new URLSearchParams(uri.split("?")[1]).get("expiry"));
      const src = URL.createObjectURL(await answer.blob());
      fill(
        out,
        h("p", { class: "shop" }, won(amount.value)),
        h("img", { id: "qr", src, alt: uri, width: "320", height: "320" }),
        h("p", {}, `${t("merch.valid_until")} ${kst(expiry)}`),
        h("p", { class: "uri" }, h("code", {}, uri)),
      );
    } catch (error) {
      fill(out, errorBox(error));
    }
  };
  fill(
    "#content",
    h("section", { "aria-labelledby": "h-invoice" }, h("h2", { id: "h-invoice" }, t("page.merchant.invoice")),
      h("div", { class: "form-row" }, h("label", { for: "amount" }, t("merch.amount")), amount,
        h("button", { type: "button", class: "primary", id: "make", onclick: make }, t("merch.make_invoice"))),
      out),
  );
}
