"""The server reads what it is handed: a variable that configures some model server, handed to an
entrypoint that does not read it, would be ignored (the model itself, on a stock vLLM image)."""

from __future__ import annotations

from components import server_env
from stacks.errors import ConfigIssue, format_loc
from stacks.needs import Needs


def issues(needs: Needs, index: int) -> list[ConfigIssue]:
    """Variables of ``needs.launch`` its entrypoint ignores, one issue per key that sets them."""
    launch = needs.launch
    if launch is None or launch.entrypoint is None:
        return []
    table = server_env.table()
    ignored: dict[str, list[str]] = {}
    for name, key in launch.env:
        if table.readers(name) and not table.reads(launch.entrypoint, name):
            ignored.setdefault(key, []).append(name)
    found = []
    for key, names in ignored.items():
        readers = dict.fromkeys(r for name in names for r in table.readers(name))
        read_by = " and ".join(table.entrypoints[r].description for r in readers)
        found.append(ConfigIssue(f"{format_loc(('deployments', index))}.{key}", (
            f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} read by {read_by}, not by "
            f"{table.entrypoints[launch.entrypoint].description}: the server would start without "
            f"{'it' if len(names) == 1 else 'them'}. {launch.fix}")))
    return found
