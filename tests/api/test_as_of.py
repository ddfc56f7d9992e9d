"""`as_of` on GET /subscription/status/get and GET /subscription/user/status (§10): the answer from
the records as they stood at a moment is the live answer given at that moment, after a scripted
history, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from subgroups.config import Settings
from tests.api.helpers import client_at, set_state
from tests.clock import SettableClock, services_at
from tests.factories import make_tenant

START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


async def test_the_answer_as_of_each_moment_is_the_live_answer_then(settings: Settings) -> None:
    clock = SettableClock(START)
    async with services_at(settings, clock) as services:
        tenant = await make_tenant(services)
        email, sms = tenant.email_group, tenant.sms_group
        script: list[tuple[Any, str, dict[str, str]]] = [
            (email, "subscribed", {"external_id": "u1", "email": "u1@example.com"}),
            (email, "subscribed", {"email": "shared@example.com"}),
            (email, "unsubscribed", {"external_id": "u1"}),
            # (Identifiers are today's in both answers: none is added on the way.)
            (sms, "subscribed", {"external_id": "u1"}),
            (email, "subscribed", {"external_id": "u2", "email": "shared@example.com"}),
            (email, "unsubscribed", {"email": "shared@example.com"}),
            (email, "subscribed", {"external_id": "u1"}),
        ]
        status_get = (
            f"/subscription/status/get?subscription_group_id={email.id}"
            "&external_id=u1&external_id=u2&external_id=nobody"
        )
        by_email = (
            f"/subscription/status/get?subscription_group_id={email.id}&email=shared@example.com"
        )
        user_status = "/subscription/user/status?email=shared@example.com"
        by_id = "/subscription/user/status?external_id=u1&external_id=u2"
        paths = (status_get, by_email, user_status, by_id)
        async with client_at(settings, services, "203.0.113.7") as client:

            async def answers(moment: datetime | None) -> list[Any]:
                suffix = "" if moment is None else f"&as_of={quote(moment.isoformat())}"
                found = []
                for path in paths:
                    response = await client.get(path + suffix, headers=tenant.auth)
                    assert response.status_code == 200, response.text
                    found.append(response.json())
                return found

            live = [(clock.now(), await answers(None))]
            for group, state, who in script:
                clock.advance(timedelta(minutes=3))
                await set_state(client, tenant, group, state, **who)
                clock.advance(timedelta(minutes=3))
                live.append((clock.now(), await answers(None)))

            for moment, then in live:
                assert await answers(moment) == then
            assert live[2][1][0]["status"] == {
                "u1": "Subscribed",
                "nobody": "Unknown",
                "u2": "Unknown",
            }


async def test_a_malformed_as_of_is_refused(settings: Settings) -> None:
    async with services_at(settings, SettableClock(START)) as services:
        tenant = await make_tenant(services)
        async with client_at(settings, services, "203.0.113.7") as client:
            for path in (
                f"/subscription/status/get?subscription_group_id={tenant.email_group.id}&external_id=u1",
                "/subscription/user/status?external_id=u1",
            ):
                response = await client.get(f"{path}&as_of=yesterday", headers=tenant.auth)
                assert (response.status_code, response.json()) == (
                    400,
                    {"message": "as_of must be an ISO 8601 date-time"},
                )
