"""Resolvers: load rows through the ORM within the principal's row access. PHI stays sealed."""
