// The portal's wallet: an EIP-1193 provider (the browser's injected wallet, or on the local
// demo network a demo key held in this page) and the few calls the portal makes through it.
// Bundled with viem by scripts/bootstrap.sh into static/build/wallet.js (no CDN).
import { createWalletClient, http, publicActions, stringToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

// A provider over a private key, for `dongne up --demo` on loopback only: the gateway hands
// the demo keys out nowhere else. Transactions go straight to the local node.
export function demoProvider(privateKey, rpcUrl, chainId) {
  const account = privateKeyToAccount(privateKey);
  const chain = {
    id: chainId,
    name: "dongne-local",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  };
  const client = createWalletClient({ account, chain, transport: http(rpcUrl) }).extend(
    publicActions,
  );
  return {
    isDongneDemo: true,
    async request({ method, params }) {
      switch (method) {
        case "eth_requestAccounts":
        case "eth_accounts":
          return [account.address];
        case "eth_chainId":
          return "0x" + chainId.toString(16);
        case "personal_sign":
          return account.signMessage({ message: { raw: params[0] } });
        case "eth_sendTransaction": {
          const tx = params[0];
          return client.sendTransaction({ to: tx.to, data: tx.data, value: BigInt(tx.value || 0) });
        }
        case "eth_getTransactionReceipt":
          return client.request({ method, params });
        default:
          throw new Error(`the demo wallet does not support ${method}`);
      }
    },
  };
}

export async function connect(provider) {
  const accounts = await provider.request({ method: "eth_requestAccounts", params: [] });
  if (!accounts || !accounts.length) throw new Error("the wallet shared no account");
  return accounts[0];
}

// EIP-4361 messages are signed with personal_sign over the UTF-8 text.
export async function signMessage(provider, address, text) {
  return provider.request({ method: "personal_sign", params: [stringToHex(text), address] });
}

export async function sendTransaction(provider, from, to, data) {
  return provider.request({ method: "eth_sendTransaction", params: [{ from, to, data }] });
}

// Polls for the receipt of `hash` (the injected wallet's node or the demo node).
export async function waitForReceipt(provider, hash, timeoutMs = 60000) {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const receipt = await provider.request({ method: "eth_getTransactionReceipt", params: [hash] });
    if (receipt) return receipt;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`no receipt for ${hash} after ${timeoutMs / 1000} s`);
}

// SIWE messages name the EIP-55 form; injected wallets often answer lower-case addresses.
export { getAddress as checksum } from "viem";
