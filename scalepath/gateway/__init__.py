"""``scalepath gateway``: render the stack's gateway config and run the real engine locally."""
