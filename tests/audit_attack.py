"""What an attacker with full database rights does to the audit trail in these tests: switch
off the append-only triggers (as a superuser could), then edit tables directly."""

from __future__ import annotations

from tortoise import connections

TRIGGERS = {
    "audit_event": ("audit_event_no_update", "audit_event_no_delete"),
    "audit_seal": ("audit_seal_no_update", "audit_seal_no_delete"),
}


async def tamper(table: str, *statements: str) -> None:
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        script = [
            f"ALTER TABLE {table} DISABLE TRIGGER USER",
            *statements,
            f"ALTER TABLE {table} ENABLE TRIGGER USER",
        ]
    else:
        script = [*(f"DROP TRIGGER {name}" for name in TRIGGERS[table]), *statements]
    for statement in script:
        await connection.execute_script(statement)
