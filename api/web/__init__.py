"""What a browser gets: server-rendered pages, their scripts and the vendored GraphiQL."""
