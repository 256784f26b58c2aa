"""Partner access through OAuth2: authlib's server core with a thin Starlette integration.

`server.py` wires authlib's grants and endpoints to `store.py` (all state in the database);
`routes.py` reads each HTTP request, runs authlib's synchronous logic in a worker thread whose
database calls hop back to the event loop (`bridge.py`), and audits the outcome;
`bearer.py` authenticates JWT access tokens on /graphql.
"""
