"""Who may see which patients (row access) and which PHI fields (the policy table)."""
