"""The read-only FHIR R4 REST facade under `/fhir`, and a patient's record export
(`Patient/{id}/$everything`): authenticated, decided, audited and budgeted as GraphQL is,
because every record is read through the served schema (reading.py)."""
