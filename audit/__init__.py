"""The audit trail: what was accessed, by whom, why, and with which decision."""
