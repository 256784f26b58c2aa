"""The Starlette application, HTTP concerns, authentication and the `phigate` command."""
