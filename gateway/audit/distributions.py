"""A program's grants verified against its committed root and the saved tree."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eth_utils.address import to_checksum_address
from sqlalchemy import Engine, func, select

from chain.protocol.merkle import MerkleInputError, MerkleTree, leaf_hash
from gateway.db.tables import index as t
from gateway.distribution import load_tree
from gateway.errors import GatewayError

_Grant = tuple[int, str, int, str]  # index, recipient, amount, tx hash


@dataclass(frozen=True, slots=True)
class GrantIssue:
    index: int
    recipient: str
    amount: int
    tx_hash: str
    reason: str  # not_a_leaf | out_of_range | duplicate


@dataclass(frozen=True, slots=True)
class DistributionVerification:
    token: str
    program_id: int
    root: str
    list_source: str  # saved_tree | uploaded_list | none
    leaves: int | None
    budget: int
    grants: int
    granted: int  # sum of indexed grants
    issues: list[GrantIssue]
    within_budget: bool
    closed: bool
    spent: int
    returned: int | None
    problems: list[str]  # every failed check in words
    ok: bool


def _tree_problem(tree: MerkleTree, root: str, source: str) -> str | None:
    try:
        tree.validate()  # rehash everything: a file edited by hand shows here
    except ValueError as exc:
        return f"the {source} is corrupt: {exc}"
    if "0x" + tree.root.hex() != root:
        return f"the {source}'s root {tree.root.hex()} is not the committed root"
    return None


def verify_distribution(
    engine: Engine,
    chain_id: int,
    token: str,
    program_id: int,
    *,
    trees_dir: Path | None = None,
    csv_text: str | Path | None = None,
) -> DistributionVerification:
    """Checks every indexed grant of a program against its committed root.

    The list comes from ``csv_text`` (its text, or a file holding it: an auditor's copy of the
    published list, rebuilt here) or else the gateway's tree saved in ``trees_dir``. A grant
    passes when the leaf hash recomputed from its own (index, recipient, amount) is the tree's
    leaf at that index; the tree is rehashed and its root compared with the committed one.
    Also: no index twice, the sum within the budget, and once closed, returned == budget -
    spent with spent equal to its moves.
    """
    token = token.lower()
    problems: list[str] = []
    p, g, m, x = t.programs.c, t.grants.c, t.pocket_moves.c, t.program_closes.c
    with engine.connect() as conn:
        program = conn.execute(
            select(t.programs).where(
                p.chain_id == chain_id, p.token == token, p.program_id == program_id
            )
        ).first()
        if program is None:
            args = {"token": token, "program_id": program_id}
            raise GatewayError("NotFound", f"no program {program_id} in {token}", args)
        mine = (g.chain_id == chain_id, g.token == token, g.program_id == program_id)
        grants = [
            (int(i), str(to), int(amount), str(tx))
            for i, to, amount, tx in conn.execute(
                select(g.grant_index, g.recipient, g.amount, g.tx_hash)
                .where(*mine)
                .order_by(g.block_number, g.log_index)
            )
        ]
        spent_moves = conn.execute(
            select(func.coalesce(func.sum(m.spent_delta), 0)).where(
                m.chain_id == chain_id, m.token == token, m.program_id == program_id
            )
        ).scalar_one()
        close = conn.execute(
            select(t.program_closes).where(
                x.chain_id == chain_id, x.token == token, x.program_id == program_id
            )
        ).first()
    root = str(program.root)
    source, tree = "none", None
    if csv_text is not None:
        try:
            # Lists are committed index-ordered (the default) or, before that was the default,
            # hash-sorted: the layout whose root was committed is the one to check.
            def read() -> io.StringIO | Path:
                return io.StringIO(csv_text, newline="") if isinstance(csv_text, str) else csv_text

            tree, source = MerkleTree.from_csv(read()), "uploaded_list"
            if "0x" + tree.root.hex() != root.lower():
                tree = MerkleTree.from_csv(read(), sort_leaves=True)
        except MerkleInputError as exc:
            raise GatewayError(
                "InvalidRequest", f"recipients CSV {exc}", {"line": exc.line}
            ) from None
    elif trees_dir is not None and (tree := load_tree(trees_dir, root)) is not None:
        source = "saved_tree"
    if tree is None:
        problems.append("no recipient list: leaf membership could not be checked")
    elif (problem := _tree_problem(tree, root, source.replace("_", " "))) is not None:
        problems.append(problem)
        tree = None
    issues = _grant_issues(grants, tree)
    if issues:
        problems.append(f"{len(issues)} grants fail their leaf check or repeat an index")
    granted = sum(amount for _, _, amount, _ in grants)
    budget = int(program.budget)
    if granted > budget:
        problems.append(f"granted {granted} is over the budget {budget}")
    if granted != int(program.granted):
        problems.append(f"grants sum to {granted}, the program records {program.granted}")
    if int(spent_moves) != int(program.spent):
        problems.append(f"pocket moves spend {spent_moves}, the program records {program.spent}")
    returned = None if close is None else int(close.returned)
    if close is not None and (
        returned != budget - int(close.spent) or returned != program.returned
    ):
        problems.append(f"returned {returned} is not budget {budget} - spent {close.spent}")
    return DistributionVerification(
        token=to_checksum_address(token),
        program_id=program_id,
        root=root,
        list_source=source if tree is not None else "none",
        leaves=None if tree is None else len(tree),
        budget=budget,
        grants=len(grants),
        granted=granted,
        issues=issues,
        within_budget=granted <= budget,
        closed=bool(program.closed),
        spent=int(program.spent),
        returned=returned,
        problems=problems,
        ok=not problems,
    )


def _grant_issues(grants: Sequence[_Grant], tree: MerkleTree | None) -> list[GrantIssue]:
    issues: list[GrantIssue] = []
    seen: set[int] = set()
    for index, recipient, amount, tx_hash in grants:
        reasons = ["duplicate"] if index in seen else []
        seen.add(index)
        if tree is not None and index >= len(tree):
            reasons.append("out_of_range")
        elif tree is not None and leaf_hash(index, recipient, amount) != tree.leaf_hash(index):
            reasons.append("not_a_leaf")
        address = to_checksum_address(recipient)
        issues += [GrantIssue(index, address, amount, tx_hash, why) for why in reasons]
    return issues
