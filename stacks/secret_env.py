"""Which plain environment variable names hold a secret, for every stage that takes an ``env`` map.

The rule matches the policy pack's default ``no-plaintext-secrets`` name pattern (``policies/``
is standalone, so the pattern is repeated there, not imported): a name *ending* in TOKEN, SECRET,
PASSWORD, API_KEY, ACCESS_KEY or CREDENTIALS, so settings such as TGI's ``MAX_TOTAL_TOKENS`` or
``MAX_BATCH_PREFILL_TOKENS`` stay allowed while ``HF_TOKEN`` or ``HUGGINGFACEHUB_API_TOKEN`` are not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SECRET_ENV_NAME = re.compile(
    r"(?i)(^|_)(token|secret|password|passwd|api_?key|access_?key|secret_?key|credentials?)$")


def secret_env_names(names: Iterable[str]) -> list[str]:
    """The names, sorted, that would carry a secret in a plain environment map."""
    return sorted(name for name in names if SECRET_ENV_NAME.search(name))
