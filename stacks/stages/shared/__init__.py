"""Code the stage modules share; nothing here is a stage or registers one."""
