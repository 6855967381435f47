"""Reward attestations: the EIP-712 message a city's reward service key (``REWARDER_ROLE``)
signs so that a reward program pays a person once per attestation id.

The domain is the token's own (name "Dongne Reward", version "1", the proxy's address), so an
attestation pays in one city only. Signing and recovery go straight to libsecp256k1 through
coincurve, as the forwarder's requests do.
"""

from __future__ import annotations

from coincurve import PrivateKey

from chain.protocol.calls import Reward
from chain.protocol.hashing import keccak_hasher, parse_address

__all__ = ["REWARD_DOMAIN_NAME", "REWARD_TYPE", "reward_digest", "sign_reward"]

REWARD_DOMAIN_NAME = "Dongne Reward"
REWARD_DOMAIN_VERSION = "1"
REWARD_TYPE = "Reward(uint256 programId,bytes32 attestationId,address recipient,uint256 amount)"
_DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"


def reward_digest(chain_id: int, token: str, program_id: int, reward: Reward) -> bytes:
    """The digest ``VoucherServices.rewardDigest`` computes (and the REWARDER signs)."""
    k = keccak_hasher()
    domain = k(
        k(_DOMAIN_TYPE.encode())
        + k(REWARD_DOMAIN_NAME.encode())
        + k(REWARD_DOMAIN_VERSION.encode())
        + chain_id.to_bytes(32, "big")
        + parse_address(token).rjust(32, b"\0")
    )
    attestation = bytes(reward.attestation_id)
    if len(attestation) != 32:
        raise ValueError("an attestation id is 32 bytes")
    struct = k(
        k(REWARD_TYPE.encode())
        + program_id.to_bytes(32, "big")
        + attestation
        + parse_address(reward.recipient).rjust(32, b"\0")
        + reward.amount.to_bytes(32, "big")
    )
    return k(b"\x19\x01" + domain + struct)


def sign_reward(
    private_key: bytes, chain_id: int, token: str, program_id: int, reward: Reward
) -> bytes:
    """The REWARDER's 65-byte ``r || s || v`` signature (low-s, v = 27/28)."""
    rsv = PrivateKey(private_key).sign_recoverable(
        reward_digest(chain_id, token, program_id, reward), hasher=None
    )
    return rsv[:64] + bytes((rsv[64] + 27,))
