"""Which environment variables each model-server entrypoint reads (``data/server_env.yaml``), so
a setting handed to a server that ignores it is refused before it is deployed."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from components.config_model import ConfigModel
from components.files import load_data

DATA_FILE = Path(__file__).parent / "data" / "server_env.yaml"


class Entrypoint(ConfigModel):
    """One entrypoint: the variables it reads, itself or through another it runs (``also``)."""

    description: str
    names: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    source: str


class ServerEnvTable(ConfigModel):
    source: str
    as_of: str
    entrypoints: dict[str, Entrypoint]
    images: dict[str, str]
    """Image repository (no registry host for Docker Hub) -> entrypoint."""

    def reads(self, entrypoint: str, name: str) -> bool:
        """Whether ``entrypoint`` (or one it runs) reads variable ``name``."""
        row = self.entrypoints[entrypoint]
        return name in row.names or name.startswith(row.prefixes) or any(self.reads(e, name) for e in row.also)

    def readers(self, name: str) -> list[str]:
        """Every entrypoint that reads ``name`` itself."""
        return [key for key, row in self.entrypoints.items() if name in row.names or name.startswith(row.prefixes)]

    def of_image(self, image: str) -> str | None:
        """The entrypoint of a known image (``docker.io/vllm/vllm-openai:v0.8.5``), or None."""
        repository = image.split("@", 1)[0].rsplit(":", 1)[0] if "/" in image else image
        repository = repository.removeprefix("docker.io/").removeprefix("index.docker.io/")
        return self.images.get(repository)


@cache
def table() -> ServerEnvTable:
    """The table."""
    return ServerEnvTable.model_validate(load_data(DATA_FILE))
