"""The served app leaves what it holds at start-up out of later garbage collections
(`settled_heap`); an app made without asking, as the tests make theirs, leaves the heap alone."""

from __future__ import annotations

import gc

from subgroups.config import Settings
from subgroups.container import build_services
from subgroups.web.app import create_app


async def test_an_app_asked_to_settle_its_heap_freezes_it_once_started(settings: Settings) -> None:
    services = build_services(settings)
    app = create_app(settings, services, settle_heap=True)
    gc.unfreeze()
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # the test process goes on making and dropping apps
        await services.aclose()


async def test_an_app_leaves_the_heap_alone_unless_asked(settings: Settings) -> None:
    services = build_services(settings)
    app = create_app(settings, services)
    gc.unfreeze()
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_freeze_count() == 0
    finally:
        await services.aclose()
