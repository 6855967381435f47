"""A whole local Dongne for the scenarios, run the way a newcomer runs it: `dongne up --demo`.

The network (anvil, contracts, the five demo municipalities, gateway and indexer) is one
`dongne up` subprocess shared by every scenario of the session; each scenario plays in its own
city, so they do not meet. Its `--json` summary gives the gateway and the tokens, and the demo
wallets are read from `<data dir>/demo-keys.json`. City staff act through `dongne` commands
signed with the operator's key (`DONGNE_DEPLOYER_KEY`); wallets act through the SDK; auditors
read the gateway's HTTP API; residents pay their in-app orders by a deposit to the bank
simulator `dongne up` runs. Direct node access is limited to :class:`ChainClock` (reading the
latest block's time, moving time forward); :class:`Staff` is the one adapter for staff
operations (their `dongne` commands).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import httpx
import pytest

from chain.protocol.calls import FundingShare, Reward, funder_name
from chain.protocol.rewards import sign_reward
from gateway.devnet.process import free_port
from tests.fixtures.signin import sign_in
from wallet_sdk import DongneClient, LocalKey
from wallet_sdk.client import PurchaseOrder

DONGNE = [sys.executable, "-m", "gateway.cli"]
# anvil's dev account 0: on the local demo network the operator holding every municipal role.
OPERATOR_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
KST = timezone(timedelta(hours=9))
# Requests are signed to stay valid for months of chain time: the scenario moves the chain's
# clock forward, and the forwarder checks deadlines against block time (the gateway against
# wall-clock time).
DEADLINE_S = 120 * 86_400
BLOCK_TIME_S = "0.25"
UP_TIMEOUT_S = 240.0
# `dongne up` stops by itself after this long, should the test process die without teardown.
DETACH_AFTER_S = "1200"

T = TypeVar("T")
S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class DemoWallet:
    """One entry of `<data dir>/demo-keys.json`."""

    role: str
    name: str
    address: str
    private_key: str
    region: int | None = None


class ChainClock:
    """The chain's clock, read and moved over JSON-RPC: the scenario's only direct node access."""

    def __init__(self, rpc_url: str) -> None:
        self._http = httpx.Client(base_url=rpc_url, timeout=30.0)
        self._id = 0

    def _call(self, method: str, params: list[Any]) -> Any:
        self._id += 1
        body = {"jsonrpc": "2.0", "id": self._id, "method": method, "params": params}
        reply = self._http.post("", json=body).json()
        assert "error" not in reply, f"{method}: {reply['error']}"
        return reply["result"]

    def now(self) -> int:
        """The latest block's timestamp."""
        block = self._call("eth_getBlockByNumber", ["latest", False])
        return int(block["timestamp"], 16)

    def advance(self, seconds: int) -> int:
        """Moves block time forward by ``seconds`` and mines a block there; returns its time."""
        self._call("evm_increaseTime", [seconds])
        self._call("evm_mine", [])
        return self.now()

    def next_month_start(self) -> int:
        """Midnight KST of the first day of the month after the chain's current month."""
        now = datetime.fromtimestamp(self.now(), KST)
        first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
        return int(following.timestamp())

    def close(self) -> None:
        self._http.close()


SUSPENDED = 2  # IVoucherTypes.MerchantStatus.Suspended


class Staff:
    """City staff operations, in ONE place: each is its `dongne` staff command (signed with the
    operator's key, recorded in the staff log by the gateway), or the city's own services.

    The walking app's attestation is no staff transaction: the city's reward service signs it
    off chain (:meth:`sign_reward`) and the walker claims it through the SDK.
    """

    def __init__(self, net: LocalDongne) -> None:
        self._net = net

    def _run(self, region: int, *command: str) -> dict[str, Any]:
        return self._net.cli(*command, "--region", str(region), "--gateway", self._net.gateway)

    def set_institution_limits(
        self, region: int, institution: str, per_payment: int, per_month: int
    ) -> None:
        self._run(region, "city", "institution-limits", institution,
                  "--per-payment", str(per_payment), "--per-month", str(per_month))  # fmt: skip

    def block_category_for_institutions(self, region: int, category: int) -> None:
        """A category blocked for every institution of the city."""
        self._run(region, "city", "institution-category", "--category", str(category),
                  "--blocked")  # fmt: skip

    def suspend_merchant(self, region: int, merchant: str) -> None:
        done = self._run(region, "merchant", "suspend", merchant)
        assert done["staff_log"]["seq"], done  # recorded in the hash-chained staff log

    def propose_funding_plan(self, region: int, shares: tuple[FundingShare, ...]) -> None:
        given = [f"{funder_name(s.funder)}:{s.subsidy_bps}:{s.cashback_bps}" for s in shares]
        self._run(region, "city", "funding-propose", *(f"--shares={g}" for g in given))

    def activate_funding_plan(self, region: int) -> None:
        self._run(region, "city", "funding-activate")

    def set_employee(
        self, institution: DongneClient, token: str, employee: str, limit: int
    ) -> None:
        """The public body's officer authorises an employee (signed by the institution's key,
        relayed: ``setEmployee`` is the institution's own call)."""
        institution.wait(institution.set_employee(token, employee, limit))

    def sign_reward(self, region: int, program_id: int, reward: Reward) -> bytes:
        """The city's reward service signs an attestation (the demo's operator holds the
        REWARDER role)."""
        key = bytes.fromhex(OPERATOR_KEY[2:])
        return sign_reward(key, self._net.chain_id, self._net.token(region), program_id, reward)

    def sale_discount(self, token: str, discount_bps: int) -> httpx.Response:
        """The city's in-app sale discount (checked against the rules on chain)."""
        return self._net.api.put(f"/v1/tokens/{token}/sale-settings",
                                 json={"discount_bps": discount_bps})  # fmt: skip

    def import_csv(self, kind: str, region: int | None, header: str, rows: list[list[str]]) -> None:
        """`dongne import residents|merchants`: one command for the city's whole list (their
        bank accounts among the columns); every row must be taken."""
        path = self._net.data_dir / f"import-{kind}-{region}-{len(rows)}-{time.time_ns()}.csv"
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header.split(","))
            writer.writerows(rows)
        where = ["--region", str(region)] if region is not None else []  # residents: network
        done = self._net.cli("import", kind, str(path), *where,
                             "--database-url", self._net.database_url)  # fmt: skip
        assert (done["rows"], done["failed"]) == (len(rows), 0), done


def bank_account(wallet: str) -> str:
    """A wallet's bank account number in the scenarios (12 digits derived from the address),
    so that a settlement line is checked against the account its payee filed."""
    return f"{int(wallet, 16) % 10**12:012d}"


@dataclass
class LocalDongne:
    """A running `dongne up --demo` and the means to act on it as each party would."""

    data_dir: Path
    summary: dict[str, Any]
    wallets: dict[str, DemoWallet]  # by demo name, e.g. "Citizen 1", "Siheung Bakery"
    clock: ChainClock
    api: httpx.Client  # the gateway, for auditors' reports
    _clients: list[DongneClient] = field(default_factory=list)
    _staff: Staff | None = None
    _code_report: dict[str, Any] | None = None

    @property
    def staff(self) -> Staff:
        """City staff operations without a `dongne` command yet (see :class:`Staff`)."""
        if self._staff is None:
            self._staff = Staff(self)
        return self._staff

    @property
    def gateway(self) -> str:
        return str(self.summary["gateway"])

    @property
    def rpc_url(self) -> str:
        return str(self.summary["rpc_url"])

    @property
    def chain_id(self) -> int:
        return int(self.summary["chain_id"])

    @property
    def manifest(self) -> Path:
        return self.data_dir / "manifest.json"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{(self.data_dir / 'gateway.db').resolve()}"

    def token(self, region: int) -> str:
        return str(self.summary["municipalities"][str(region)]["token"])

    # -- city staff: the CLI --------------------------------------------------------------

    def run_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`dongne <args> --rpc ... --manifest ... --json` with the operator's key."""
        command = [*DONGNE, *args, "--rpc", self.rpc_url, "--manifest", str(self.manifest)]
        # Staff commands sign in to the gateway for the staff log: their session is this
        # network's, kept beside its data.
        env = {**os.environ, "DONGNE_DEPLOYER_KEY": OPERATOR_KEY,
               "XDG_CONFIG_HOME": str(self.data_dir / "config")}  # fmt: skip
        return subprocess.run(
            [*command, "--json"], capture_output=True, text=True, timeout=300, env=env
        )

    def cli(self, *args: str) -> dict[str, Any]:
        """Runs a command that must succeed; its JSON output."""
        result = self.run_cli(*args)
        assert result.returncode == 0, f"dongne {' '.join(args)} failed: {result.stderr}"
        out: dict[str, Any] = json.loads(result.stdout)
        return out

    def cli_error(self, *args: str) -> str:
        """Runs a command that must fail; its one-line reason."""
        result = self.run_cli(*args)
        assert result.returncode != 0, f"dongne {' '.join(args)} succeeded: {result.stdout}"
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines, "a failing command must say why"
        return " ".join(lines)

    def verify_code(self) -> dict[str, Any]:
        """`dongne audit verify-code`, run once per network: nothing upgrades the contracts
        during the scenarios, so each one's closing check reads the same report (the first run
        compiles the pinned sources, minutes on a cold cache)."""
        if self._code_report is None:
            self._code_report = self.cli("audit", "verify-code")
        return self._code_report

    # -- wallets: the SDK -----------------------------------------------------------------

    def client(self, key: str | LocalKey) -> DongneClient:
        """A wallet app for ``key`` (a demo wallet's name, a private key or a LocalKey)."""
        if isinstance(key, str):
            key = LocalKey.from_private_key(
                self.wallets[key].private_key if key in self.wallets else key
            )
        client = DongneClient(self.gateway, key, deadline_s=DEADLINE_S, poll_interval_s=0.1)
        self._clients.append(client)
        return client

    def buy(self, client: DongneClient, token: str, face: int) -> PurchaseOrder:
        """The resident buys ``face`` won in the app and pays the order's virtual account from
        their bank (a deposit to the BANK SIMULATOR); the sales agent then issues on chain."""
        order = client.buy(token, face)
        assert order.virtual_account is not None, order
        assert order.virtual_account.amount == order.price
        bank = json.loads(Path(self.summary["bank_simulator_credentials"]).read_text())
        deposit = httpx.post(
            f"{bank['url']}/v1/virtual-accounts/{order.virtual_account.payment_id}/deposit",
            json={}, headers={"Authorization": f"Bearer {bank['secret']}"}, timeout=30,
        )  # fmt: skip
        assert deposit.status_code == 200, deposit.text
        done = client.wait_purchase(order)
        assert (done.state, done.deposited, done.face) == ("issued", order.price, face)
        return done

    # -- auditors: the gateway's API ------------------------------------------------------

    def get(self, path: str, *, missing_ok: bool = False, **params: int | str) -> Any:
        """GET a report; with ``missing_ok``, None while the index does not know it yet."""
        response = self.api.get(path, params=params)
        if missing_ok and response.status_code == 404:
            return None
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.api.close()
        self.clock.close()


def eventually(check: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
    """Polls ``check()`` until it returns something truthy (the indexer follows the chain a
    little behind); fails naming ``what`` after ``timeout`` seconds."""
    give_up = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < give_up, f"not in {timeout:.0f}s: {what}"
        time.sleep(0.2)


@dataclass
class Cast:
    """A scenario's people (personas over the demo's wallets, each with its own wallet app) in
    one city, and what the story has learned so far (subclasses add their own)."""

    REGION: ClassVar[int]
    net: LocalDongne
    names: InitVar[Mapping[str, str]]  # persona -> demo wallet name
    workdir: Path = Path()  # where the city keeps its recipient lists
    people: dict[str, DongneClient] = field(init=False)
    started: int = field(init=False)  # chain time when the story began

    def __post_init__(self, names: Mapping[str, str]) -> None:
        self.people = {who: self.net.client(name) for who, name in names.items()}
        self.started = self.net.clock.now()

    @property
    def token(self) -> str:
        return self.net.token(self.REGION)

    def __getitem__(self, who: str) -> DongneClient:
        return self.people[who]

    def address(self, who: str) -> str:
        return self.people[who].address


def play(story: Sequence[Callable[[S], None]], cast: S) -> None:
    """Runs a scenario's steps in order, printing where its time goes (shown with -s or on
    failure)."""
    for step in story:
        began = time.monotonic()
        step(cast)
        print(f"{step.__name__}: {time.monotonic() - began:.1f}s")


def _summary(proc: subprocess.Popen[bytes], out: Path, err: Path) -> dict[str, Any]:
    """Waits for `dongne up --json`'s summary on stdout (the network is then up)."""
    give_up = time.monotonic() + UP_TIMEOUT_S
    while time.monotonic() < give_up:
        text = out.read_text()
        if text.strip():
            try:
                summary: dict[str, Any] = json.loads(text)
            except json.JSONDecodeError:
                pass  # still being written
            else:
                return summary
        if proc.poll() is not None:
            raise AssertionError(f"dongne up exited with {proc.returncode}: {err.read_text()}")
        time.sleep(0.2)
    raise AssertionError(f"dongne up not ready in {UP_TIMEOUT_S:.0f}s: {err.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a user stops it: `dongne up` then stops the gateway and the node."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def dongne(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDongne]:
    """`dongne up --demo` on fresh ports and a fresh data directory, for every scenario: each
    plays in its own city (one network start instead of five)."""
    workdir = tmp_path_factory.mktemp("dongne-up")
    data_dir = workdir / "dongne"
    out, err = workdir / "up.out", workdir / "up.err"
    command = [*DONGNE, "up", "--demo", "--data-dir", str(data_dir), "--json"]
    command += ["--port", str(free_port()), "--rpc-port", str(free_port())]
    command += ["--block-time", BLOCK_TIME_S, "--detach-after", DETACH_AFTER_S]
    # The gateway process inherits these: batch and index quickly for a test.
    env = {**os.environ, "DONGNE_BATCH_INTERVAL_MS": "100", "DONGNE_POLL_INTERVAL_S": "0.1",
           # The month moves the chain's clock: requests are signed months ahead.
           "DONGNE_MAX_DEADLINE_S": str(DEADLINE_S + 86_400)}  # fmt: skip
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env)
    try:
        summary = _summary(proc, out, err)
        keys = json.loads((data_dir / "demo-keys.json").read_text())
        wallets = {w["name"]: DemoWallet(**w) for w in keys}
        network = LocalDongne(
            data_dir=data_dir,
            summary=summary,
            wallets=wallets,
            clock=ChainClock(summary["rpc_url"]),
            api=httpx.Client(base_url=summary["gateway"], timeout=120.0),
        )
        # Auditors and city staff read the API signed in: the demo's operator is Siheung's
        # (and every demo city's) admin, auditor and program manager.
        network.api.headers.update(sign_in(network.api, OPERATOR_KEY))
        try:
            yield network
        finally:
            network.close()
    finally:
        _stop(proc)
