"""The wallet SDK's registry calls over real HTTP: a shop applies and reads its application
(sync client); once the registrar registered it, the public directory finds it (async)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from tests.gateway.http.conftest import until
from tests.gateway.registry.conftest import RegistryWorld
from tests.gateway.registry.profiles import business_number
from tests.gateway.registry.test_flow import send_as
from wallet_sdk import LocalKey
from wallet_sdk.client import (
    AsyncDongneClient,
    DirectoryPage,
    DongneClient,
    MerchantApplication,
)
from wallet_sdk.exceptions import InvalidMerchantProfile, MerchantApplicationExists

APPLICATION = MerchantApplication(
    business_name="SDK 분식", business_number=business_number("314159265"),
    address="경기도 시흥시 정왕동 2", legal_dong="4139013200", category=56194,
    latitude=37.3451, longitude=126.7360, bank_code="011", bank_account="302-1234-5678-91",
    account_holder="박분식",
)  # fmt: skip


def test_a_shop_applies_and_is_found_once_registered(world: RegistryWorld) -> None:
    key = LocalKey.from_private_key(world.key("sdk_shop"))
    with DongneClient(world.gateway.url, key) as client:
        with pytest.raises(InvalidMerchantProfile) as bad:
            client.apply_as_merchant(world.siheung, dataclasses.replace(APPLICATION, category=561))
        assert bad.value.field == "category"
        made = client.apply_as_merchant(world.siheung, APPLICATION)
        assert (made.status, made.merchant) == ("applied", key.address)
        with pytest.raises(MerchantApplicationExists) as twice:
            client.apply_as_merchant(world.siheung, APPLICATION)
        assert twice.value.application_status == "applied"
        mine = client.merchant_application(world.siheung)
        assert mine.application.bank_account == "3021234567891"
        assert mine.application.business_number.startswith("314-15-9265")
        assert mine.on_chain is None

        approve = f"/v1/tokens/{world.siheung}/merchant-applications/{key.address}/approve"
        send_as(world, "registrar", world.client("registrar").post(approve, json={}).json()["call"])
        until(lambda: client.merchant_application(world.siheung).status == "registered", "indexed")

    async def search() -> DirectoryPage:
        citizen = LocalKey.from_private_key(world.key("citizen"))
        async with AsyncDongneClient(world.gateway.url, citizen) as reader:
            return await reader.directory(world.siheung, q="분식", near=(37.3451, 126.7360))

    page = asyncio.run(search())
    assert [(e.merchant, e.business_name) for e in page.items] == [(key.address, "SDK 분식")]
    assert page.items[0].distance_m == 0.0
    assert page.next_cursor is None
