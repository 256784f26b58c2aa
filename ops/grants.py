"""The serving role's privileges on PostgreSQL: what `phigate migrate` grants it.

Two roles (README: database roles). The migration role owns the schema: it runs `phigate
migrate`, and as owner it could also `ALTER TABLE audit_event DISABLE TRIGGER` and then rewrite
the audit trail. The serving role, which `phigate serve` connects as, owns nothing: it reads and
writes the application's rows, and may only read and append to the audit tables. Without
ownership it cannot alter, disable triggers on, truncate or drop any table, and PostgreSQL 15
lets no one but the owner create in the `public` schema.

Grants are set from scratch on every migrate (revoke all, then grant), so a table a new
migration adds is covered and nothing granted by hand survives unnoticed.
"""

from __future__ import annotations

import re

from tortoise.backends.base.client import BaseDBAsyncClient

from ops.digests import MIGRATIONS_TABLE

APPEND_ONLY = ("audit_event", "audit_seal")
"""As in migrations/0008_audit_chain.py: the database refuses UPDATE and DELETE on them."""
_ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class GrantError(Exception):
    """The serving role cannot be given its grants safely. Messages name the role only."""


def grant_statements(role: str) -> list[str]:
    if not _ROLE.fullmatch(role):
        raise GrantError("PHIGATE_SERVING_ROLE must be a lower-case PostgreSQL identifier")
    protected = ", ".join((*APPEND_ONLY, MIGRATIONS_TABLE))
    return [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}",
        f"REVOKE CREATE ON SCHEMA public FROM {role}",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"REVOKE INSERT, UPDATE, DELETE ON {protected} FROM {role}",
        f"GRANT INSERT ON {', '.join(APPEND_ONLY)} TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ]


async def grant_serving_role(client: BaseDBAsyncClient, role: str) -> None:
    """Give `role` exactly the serving grants; refuse a role that would defeat them."""
    statements = grant_statements(role)
    rows = await client.execute_query_dict(
        "SELECT rolsuper, rolname = current_user AS is_me FROM pg_roles WHERE rolname = $1",
        [role],
    )
    if not rows:
        raise GrantError(f"role {role} does not exist (CREATE ROLE {role} LOGIN ...)")
    if rows[0]["rolsuper"] or rows[0]["is_me"]:
        raise GrantError(f"role {role} must be neither a superuser nor the migrating role")
    owned = await client.execute_query_dict(
        "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' AND tableowner = $1",
        [role],
    )
    if owned[0]["n"]:
        raise GrantError(f"role {role} owns tables; the serving role must own nothing")
    for statement in statements:
        await client.execute_script(statement)
