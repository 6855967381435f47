// Sign-in: SIWE (EIP-4361) with the browser's wallet, or on the loopback demo network with a
// demo key; then on to the visitor's own pages.
import { $, api, boot, errorBox, fill, h, homeOf, saveSession, status, t } from "/portal/static/portal.js";
import { checksum, connect, demoProvider, signMessage } from "/portal/static/build/wallet.js";

// The same text as wallet_sdk.client.signin.siwe_message (the ABNF of EIP-4361).
function siweMessage(offer, address) {
  return [
    `${offer.domain} wants you to sign in with your Ethereum account:`,
    address,
    "",
    offer.statement,
    "",
    `URI: ${offer.uri}`,
    "Version: 1",
    `Chain ID: ${offer.chain_id}`,
    `Nonce: ${offer.nonce}`,
    `Issued At: ${new Date().toISOString()}`,
  ].join("\n");
}

async function signIn(provider) {
  status(t("app.loading"));
  try {
    const address = checksum(await connect(provider));
    const offer = await api("/v1/auth/nonce");
    const text = siweMessage(offer, address);
    const signature = await signMessage(provider, address, text);
    const session = await api("/v1/auth/login", { method: "POST", json: { message: text, signature } });
    saveSession(session);
    const me = await api("/v1/me");
    const home = homeOf(me);
    status(t("signin.done"));
    if (home) {
      window.location.assign(home);
      return;
    }
    $("#result").hidden = false;
    fill("#homes", h("p", {}, t("signin.none")));
  } catch (error) {
    status("");
    $("#result").hidden = false;
    fill("#homes", errorBox(error));
  }
}

// The run's demo secret: `dongne up --demo` prints the portal's URL with ?demo=<secret>. It
// is taken from the URL once (and dropped from the address bar and history), then kept for
// this tab only.
const DEMO_SECRET = "dongne.demo_secret";

function demoSecret() {
  const url = new URL(window.location.href);
  const given = url.searchParams.get("demo");
  if (given) {
    sessionStorage.setItem(DEMO_SECRET, given);
    url.searchParams.delete("demo");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem(DEMO_SECRET);
}

async function demoWallets() {
  const box = $("#demo-wallets");
  if (!box) return;
  const secret = demoSecret();
  if (!secret) {
    $("#demo").hidden = true; // opened without the printed URL: no demo wallets
    return;
  }
  try {
    const demo = await api("/portal/demo/wallets", { headers: { "x-dongne-demo": secret } });
    const rows = demo.wallets.map((w) =>
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            class: "demo-wallet",
            dataset: { role: w.role, address: w.address },
            onclick: () => {
              const chosen = { private_key: w.private_key, rpc_url: demo.rpc_url, chain_id: demo.chain_id };
              sessionStorage.setItem("dongne.demo", JSON.stringify(chosen));
              signIn(demoProvider(w.private_key, demo.rpc_url, demo.chain_id));
            },
          },
          `${w.name} (${w.role})`,
        ),
        " ",
        h("code", {}, w.address),
      ),
    );
    fill(box, h("ul", { class: "demo-list" }, ...rows));
  } catch (error) {
    fill(box, errorBox(error));
  }
}

const context = await boot("anyone");
$("#wallet-signin").addEventListener("click", () => {
  sessionStorage.removeItem("dongne.demo");
  if (!window.ethereum) {
    $("#result").hidden = false;
    fill("#homes", h("div", { class: "error", role: "alert" }, t("signin.no_wallet")));
    return;
  }
  signIn(window.ethereum);
});
if (context.me?.address) {
  const home = homeOf(context.me);
  if (home) {
    $("#result").hidden = false;
    fill("#homes", h("p", {}, h("a", { href: home }, t("signin.home"))));
  }
}
demoWallets();
