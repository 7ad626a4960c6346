"""Hugging Face / vLLM Deep Learning Container images for SageMaker, from the SDK's own tables.

Image URIs are never typed by hand: ``sagemaker.core.image_uris`` (SageMaker Python SDK v3,
package ``sagemaker-core``) ships the per-region registry accounts, repositories and tags as
JSON and resolves them offline. An unknown version or region is a :class:`ImageNotAvailable`
naming what the installed SDK supports (upgrade ``sagemaker-core`` for newer containers).

Its answers are kept per process and on disk per installed ``sagemaker-core`` and ``botocore``
(:mod:`components.disk_memo`): importing the SDK takes 2-5 s, so a plan whose images were all
resolved before with the same packages never imports it.
"""

from __future__ import annotations

from enum import Enum
from functools import cache

from components.disk_memo import DiskMemo
from components.sagemaker.limits import version_key

#: The SDK's answers, on disk per installed version of the packages whose data they come from.
_MEMO = DiskMemo("sagemaker-images", ("sagemaker-core", "botocore"))


class Server(str, Enum):
    """The model server (Deep Learning Container) a SageMaker deployment runs."""

    TGI = "tgi"
    """Hugging Face Text Generation Inference (SDK framework ``huggingface-llm``), GPU only."""
    TEI = "tei"
    """Hugging Face Text Embeddings Inference (``huggingface-tei``; ``huggingface-tei-cpu`` on CPU)."""
    VLLM = "vllm"
    """The AWS vLLM container (SDK framework ``vllm``, configured by ``SM_VLLM_*``), GPU only."""


#: SDK framework per server and processor; a missing entry means "not available on that processor".
_FRAMEWORKS: dict[tuple[Server, str], str] = {
    (Server.TGI, "gpu"): "huggingface-llm",
    (Server.TEI, "gpu"): "huggingface-tei",
    (Server.TEI, "cpu"): "huggingface-tei-cpu",
    (Server.VLLM, "gpu"): "vllm",
}


class ImageNotAvailable(ValueError):
    """No DLC for this server/version/region/processor in the installed SDK's tables."""


def framework(server: Server, gpu: bool) -> str:
    """The SDK framework name of ``server`` on a GPU or CPU instance."""
    try:
        return _FRAMEWORKS[(server, "gpu" if gpu else "cpu")]
    except KeyError:
        raise ImageNotAvailable(
            f"server {server.value!r} has no {'GPU' if gpu else 'CPU'} container; "
            f"use a {'CPU' if gpu else 'GPU'} instance type or another server"
        ) from None


def supports_cpu(server: Server) -> bool:
    """Whether the server has a CPU image (serverless endpoints are CPU only)."""
    return (server, "cpu") in _FRAMEWORKS


def _image_uris():  # noqa: ANN202 (a module)
    # `sagemaker.core`'s package import takes seconds (it loads the whole SDK); only stacks
    # with a SageMaker deployment pay for it.
    from sagemaker.core import image_uris  # noqa: PLC0415

    return image_uris


@cache
def versions(server: Server) -> tuple[str, ...]:
    """Versions (full and ``major.minor`` aliases) the installed SDK knows for ``server``."""
    key = f"versions/{server.value}"
    known = _MEMO.strings(key)
    if known is None:
        image_uris = _image_uris()
        found: set[str] = set()
        for (srv, _), name in _FRAMEWORKS.items():
            if srv is server:
                found |= set(image_uris.list_versions(name, "inference"))
        known = sorted(found, key=version_key)
        _MEMO.put(key, known)
    return tuple(known)


@cache
def retrieve(server: Server, version: str, region: str, instance_type: str | None, gpu: bool) -> str:
    """The image URI of ``server`` ``version`` in ``region`` (``instance_type`` None: serverless).

    Memoised per process and on disk: the SDK re-reads and re-parses botocore's endpoint tables
    on every call (~0.1 s), and a stack's deployments, their pre-flight checks and the components
    ask for the same few images again and again. Failures are not kept (they end the plan).
    """
    name = framework(server, gpu)
    key = f"image/{name}/{version}/{region}/{instance_type or 'serverless'}"
    image = _MEMO.get(key)
    if not isinstance(image, str):
        try:
            image = _image_uris().retrieve(
                name, region, version=version, instance_type=instance_type, image_scope="inference",
            )
        except ValueError as error:
            # The SDK's message already lists the supported versions or regions.
            raise ImageNotAvailable(str(error)) from None
        _MEMO.put(key, image)
    return image



def ecr_repository_arn(image_uri: str) -> str:
    """``<acct>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>`` -> the repository's ARN (pull scope)."""
    host, _, path = image_uri.partition("/")
    account, _, rest = host.partition(".dkr.ecr.")
    region = rest.split(".", 1)[0]
    repository = path.split(":", 1)[0].split("@", 1)[0]
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    return f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"
