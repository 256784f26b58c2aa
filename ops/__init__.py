"""Operations run from the `phigate` command line: key rotation and encrypted backups."""
