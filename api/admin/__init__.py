"""Administration: accounts, organizations, care teams and proxy grants, used alike by the
`phigate` command line (bootstrap) and the admin's GraphQL operations. Every change is a
security event naming who acted and on whom, written in the change's own transaction."""
