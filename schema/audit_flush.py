"""Writes the request's audit records after execution, before the response leaves, opens the
response's PHI values meanwhile, and adds the errors of denied and unopenable fields.

If the write fails the whole result is replaced by an AUDIT_UNAVAILABLE error: PHI is returned
only once its audit records are committed. A request that takes its actor past the export
budget is withheld the same way, with EXPORT_BUDGET_EXCEEDED, and raises an alert.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from strawberry.extensions import SchemaExtension

from audit.budget import ExportBudgetExceeded, alert
from schema.context import RequestContext
from schema.errors import AuditUnavailable, BudgetExceeded, PhiUnavailable

log = logging.getLogger("phigate.audit")


class AuditFlush(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if not isinstance(context, RequestContext):
            raise AuditUnavailable()
        write = None
        if context.phi.audit.pending:
            write = asyncio.ensure_future(context.phi.audit.flush())
            # Let the write reach the database, then open the response's values and build its
            # errors while it stores the records: the two overlap, the response waits for both.
            await asyncio.sleep(0)
        try:
            errors = [*context.phi.open_sealed(), *context.phi.denied_errors()]
        except Exception as exc:
            # Not a value that will not open (that is PHI_UNAVAILABLE at its field): a fault.
            # Nothing of the response leaves, and the fault's message stays in the process.
            log.error("completing the response failed (%s); withheld", type(exc).__name__)
            await self._written(context, write)
            raise PhiUnavailable() from None
        await self._written(context, write)
        result = self.execution_context.result
        if errors and result is not None:
            result.errors = [*(result.errors or []), *errors]

    async def _written(self, context: RequestContext, write: asyncio.Future[None] | None) -> None:
        if write is None:
            return
        try:
            await write
        except ExportBudgetExceeded as exceeded:
            await self._alert(context, exceeded)
            raise BudgetExceeded() from None
        except Exception as exc:
            # Raising here makes strawberry discard the execution result: data becomes null.
            log.error("audit write failed (%s); response withheld", type(exc).__name__)
            raise AuditUnavailable() from None

    async def _alert(self, context: RequestContext, exceeded: ExportBudgetExceeded) -> None:
        try:
            await alert(context.principal, exceeded.hour, datetime.now(UTC))
        except Exception as exc:
            # The data is withheld either way; the request's own records are written.
            log.error("export budget alert failed (%s)", type(exc).__name__)
