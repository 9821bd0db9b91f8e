"""The unit of work: one transaction and the domain events recorded in it.

`async with UnitOfWork(db, bus) as uow:` opens a transaction; services write through `uow.session` and
`uow.record(event)`. On success the bus's in-transaction handlers run, then the transaction commits,
then the after-commit handlers run. On error everything is rolled back and no handler runs.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.db import Database
from kotaku.events import Event, EventBus


class UnitOfWork:
    def __init__(self, db: Database, bus: EventBus | None = None) -> None:
        self.db = db
        self.bus = bus or EventBus()
        self.events: list[Event] = []
        self._tx: Any = None
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use `async with`")
        return self._session

    def record(self, event: Event) -> None:
        self.events.append(event)

    async def __aenter__(self) -> UnitOfWork:
        self.events = []
        self._tx = self.db.transaction()
        self._session = await self._tx.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        tx, self._tx = self._tx, None
        try:
            if exc_type is None:
                try:
                    await self.bus.before_commit(self)
                except BaseException as handler_exc:
                    await tx.__aexit__(type(handler_exc), handler_exc, handler_exc.__traceback__)
                    raise
            suppressed = await tx.__aexit__(exc_type, exc, tb)
        finally:
            self._session = None
        if exc_type is None:
            await self.bus.committed(list(self.events))
        return suppressed
