"""Old import path of the Hugging Face endpoint provider, kept on purpose.

Pulumi stores a dynamic provider in stack state by pickling it, and the pickle names the
module it was defined in. Stacks created before the provider moved to
:mod:`components.huggingface.endpoint_provider` name this path, so it must keep resolving,
private names included: the old path is the new module itself, not a copy.
"""

import sys

from components.huggingface import endpoint_provider

sys.modules[__name__] = endpoint_provider
