"""FHIR R4 interchange: records in (import) and out (right of access, the REST facade).

Every value crosses the same decision point, sealed write path and audit as GraphQL does;
nothing here reads the policy tables or holds a key. (The package is not called `fhir`:
that namespace belongs to fhir.resources.)
"""
