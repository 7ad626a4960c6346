"""Read a stack's config file the way the Pulumi engine hands it to the program.

``environments/Pulumi.<stack>.yaml`` holds ``config:`` with namespaced keys. The engine passes
string values as they are and objects/lists as JSON strings; ``secure:`` values are encrypted
and cannot be decrypted offline, so they become a marked placeholder flagged as secret.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.files import read_regular_file
from stacks.errors import ConfigError, ConfigIssue
from stacks.parse import parse_spec
from stacks.spec import StackSpec

#: Stands in for an encrypted value offline. Never printed: the plan redacts secrets.
SECRET_PLACEHOLDER = "scalepath-offline-secret-placeholder"


def nesting_depth(value: Any) -> int:
    """How deeply ``value`` (parsed JSON) nests lists and mappings; iterative, so any depth is measured."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


@dataclass(frozen=True)
class StackConfig:
    """The engine's view of one stack's config."""

    project: str
    stack: str
    values: dict[str, str]
    """Namespaced key -> value as the engine passes it (objects as JSON text)."""
    secret_keys: set[str] = field(default_factory=set)
    placeholder_keys: frozenset[str] = frozenset()
    """``secure:`` keys whose value is no Pulumi ciphertext (see :func:`is_ciphertext`): ``pulumi
    preview`` cannot decrypt them until they are set with ``pulumi config set --secret``."""

    def spec(self) -> StackSpec:
        """The validated spec, as the stack program parses it (``ConfigError`` naming every bad key):
        the one way the CLI's commands (plan, gateway, promote) read a stack."""
        return parse_spec(self.values, project=self.project, stack=self.stack, secret_keys=self.secret_keys)


def _base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def is_ciphertext(value: object) -> bool:
    """Whether a ``secure:`` value has the shape Pulumi's secrets providers write.

    The passphrase and cloud-KMS providers write ``v1:<nonce>:<sealed>`` (base64 each; a 12-byte
    AES-GCM nonce, the sealed value at least its 16-byte tag; pulumi/pulumi ``symmetricCrypter``);
    Pulumi Cloud writes one base64 string its service decrypts. Anything else fails to decrypt
    under every provider, so it is a placeholder. Only the shape is known offline: a value of the
    right shape made with another stack's key still fails at ``pulumi preview``.
    """
    if not isinstance(value, str) or not value:
        return False
    parts = value.split(":")
    if parts[0] == "v1":
        if len(parts) != 3:
            return False
        nonce, sealed = _base64(parts[1]), _base64(parts[2])
        return nonce is not None and len(nonce) == 12 and sealed is not None and len(sealed) >= 16
    return len(parts) == 1 and bool(_base64(value))


def project_root(start: Path | None = None) -> Path:
    """The folder holding ``Pulumi.yaml`` (searched upwards from ``start`` or the cwd)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    raise FileNotFoundError(f"no Pulumi.yaml in {here} or its parents; run inside a scalepath project")


MAX_EXPANDED_VALUES = 1_000_000
"""Most values a config file may stand for once its aliases are expanded. A real stack has a few
thousand; a 440-byte file of nested aliases stands for billions (the "billion laughs"), which
every later step (JSON for the engine, validation) would expand."""

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists a config file may have: a stack's is under ten levels, and
later steps (validation, pickling to the policy worker) recurse once per level."""

_NOT_CONFIG = {"tag:yaml.org,2002:binary": "a string", "tag:yaml.org,2002:set": "a list",
               "tag:yaml.org,2002:omap": "a mapping", "tag:yaml.org,2002:pairs": "a mapping"}
"""YAML types the engine cannot pass as config, and what to write instead."""


class _ConfigLoader(yaml.SafeLoader):
    """The safe loader, with an unquoted date (``owner: 2024-01-01``) kept as the text it is, as
    the engine passes it, rather than a date no JSON can hold."""


_ConfigLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


class _NodeCheck:
    """One walk over a composed YAML document, each node once however many aliases name it:
    repeated keys, types that are not config, and the size the document expands to."""

    def __init__(self) -> None:
        self.issues: list[ConfigIssue] = []
        self._sizes: dict[int, int] = {}
        self._open: set[int] = set()

    def size(self, node: yaml.Node, path: str, depth: int = 0) -> int:
        """How many values ``node`` stands for with its aliases expanded (issues recorded on the way)."""
        if depth > MAX_DEPTH:
            self.issues.append(ConfigIssue(path, f"nested more than {MAX_DEPTH} levels deep; a stack config is "
                                           "a few levels of mappings and lists"))
            return 1
        if id(node) in self._sizes:
            return self._sizes[id(node)]
        if id(node) in self._open:
            self.issues.append(ConfigIssue(path or "(document)", "an alias refers to a value that contains it; "
                                           "config must be finite: write the value out"))
            return 1
        self._open.add(id(node))
        total = 1
        if node.tag in _NOT_CONFIG:
            self.issues.append(ConfigIssue(path or "(document)", f"`!!{node.tag.rsplit(':', 1)[1]}` is not a value "
                                           f"the engine passes as config; write {_NOT_CONFIG[node.tag]}"))
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                child = f"{path}.{key}" if path and key is not None else (key or path)
                if key is not None and key != "<<":
                    if key in seen:
                        self.issues.append(ConfigIssue(child, f"duplicate key (line {key_node.start_mark.line + 1}; "
                                                       f"first at line {seen[key] + 1}); YAML keeps only one: "
                                                       "remove the other"))
                    else:
                        seen[key] = key_node.start_mark.line
                total += self.size(key_node, child, depth + 1) + self.size(value_node, child, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(self.size(item, f"{path}[{index}]", depth + 1) for index, item in enumerate(node.value))
        self._open.discard(id(node))
        self._sizes[id(node)] = total
        return total


def read_config_text(path: Path, what: str = "stack config file") -> str:
    """The text of a config file; ConfigError saying what the system said when it cannot be read."""
    try:
        return read_regular_file(path)
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(str(path), f"{what} not found")]) from None
    except IsADirectoryError:
        raise ConfigError([ConfigIssue(str(path), f"{what} is a directory; give the YAML file")]) from None
    except OSError as error:  # permissions, I/O, not a regular file, too large: say what the system said
        raise ConfigError([ConfigIssue(str(path), f"cannot read {what}: {error.strerror or error}")]) from None
    except UnicodeDecodeError:
        raise ConfigError([ConfigIssue(str(path), f"{what} is not UTF-8 text")]) from None


def _load_yaml(path: Path, what: str, text: str | None = None) -> Any:
    """Parse a regular YAML file (or ``text``, its content as read or as an edit would make it); a
    repeated key is an error naming its key path (below ``config:`` as ``scalepath:tags.team``)."""
    try:
        node = yaml.compose(read_config_text(path, what) if text is None else text, Loader=yaml.SafeLoader)
        if node is None:
            return None
        check = _NodeCheck()
        if check.size(node, "") > MAX_EXPANDED_VALUES:
            check.issues.append(ConfigIssue("(document)", f"its aliases (*name) expand to more than "
                                            f"{MAX_EXPANDED_VALUES:,} values; write the values out or share fewer"))
        if check.issues:
            raise ConfigError([ConfigIssue(f"{path}: {d.path.removeprefix('config.')}", d.message)
                               for d in check.issues])
        return _ConfigLoader("").construct_document(node)
    except RecursionError:  # PyYAML composes and constructs recursively
        raise ConfigError([ConfigIssue(str(path), "nested too deeply to read; a stack config is a few levels "
                                       "of mappings and lists")]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError([ConfigIssue(str(path), f"malformed YAML{where}: {problem}")]) from None


def _project(root: Path) -> dict[str, Any]:
    project = _load_yaml(root / "Pulumi.yaml", "project file")
    if not isinstance(project, dict) or not isinstance(project.get("name"), str):
        raise ConfigError([ConfigIssue(str(root / "Pulumi.yaml"), "expected a mapping with a `name:`")])
    return project


def stack_config_path(stack: str, root: Path, config_file: Path | None = None) -> Path:
    """``config_file``, else ``<root>/<stackConfigDir>/Pulumi.<stack>.yaml`` (where Pulumi reads it)."""
    return config_file or root / _project(root).get("stackConfigDir", ".") / f"Pulumi.{stack}.yaml"


def load_stack_config(stack: str, root: Path, config_file: Path | None = None, text: str | None = None) -> StackConfig:
    """Load ``config_file`` or ``<root>/<stackConfigDir>/Pulumi.<stack>.yaml``; with ``text``, that
    file's content as it would be (an edit checked before it replaces the file)."""
    project = _project(root)
    path = stack_config_path(stack, root, config_file)
    document = _load_yaml(path, "stack config file", text) or {}
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise ConfigError([ConfigIssue(str(path), "expected a mapping with a `config:` mapping")])
    values: dict[str, str] = {}
    secret_keys: set[str] = set()
    placeholders: set[str] = set()
    for key, value in (document.get("config") or {}).items():
        if not isinstance(key, str):
            raise ConfigError([ConfigIssue(f"{path}: config.{key}", "config keys are names such as "
                                           "`scalepath:environment`, not numbers or booleans")])
        if ":" not in key:
            key = f"{project['name']}:{key}"  # un-namespaced keys belong to the project
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[key] = SECRET_PLACEHOLDER
            secret_keys.add(key)
            if not is_ciphertext(value["secure"]):
                placeholders.add(key)
        elif isinstance(value, str):
            values[key] = value
        else:
            values[key] = json.dumps(value)
    return StackConfig(project=project["name"], stack=stack, values=values, secret_keys=secret_keys,
                       placeholder_keys=frozenset(placeholders))


def load_base_config(stack: str, root: Path, config_file: Path | None, base: str) -> tuple[str, StackConfig]:
    """The base of ``plan --base``: ``base`` as a file when one exists there, else a git ref whose
    copy of the stack's config file (``git show REF:<path>``) is read. Returns a label and the config."""
    candidate = Path(base)
    if candidate.is_file():
        return str(candidate), load_stack_config(stack, root, candidate)
    path = stack_config_path(stack, root, config_file).resolve()
    try:
        relative = path.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise ConfigError([ConfigIssue("--base", f"{path} is outside the project, so no git ref holds it; "
                                       "give the base as a file")]) from None
    if base.startswith("-"):  # never an option to git
        raise ConfigError([ConfigIssue("--base", f"{base!r} is neither a file nor a git ref")])
    import subprocess  # noqa: PLC0415 (only --base with a ref needs it)
    import tempfile  # noqa: PLC0415

    try:
        shown = subprocess.run(["git", "show", f"{base}:{relative}"], cwd=root, capture_output=True,
                               check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ConfigError([ConfigIssue("--base", f"cannot run git: {error}")]) from None
    if shown.returncode != 0:
        raise ConfigError([ConfigIssue("--base", f"{base!r} is neither a file nor a git ref holding {relative} "
                                       f"({shown.stderr.decode(errors='replace').strip()})")])
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / path.name
        copy.write_bytes(shown.stdout)
        return f"{base}:{relative}", load_stack_config(stack, root, copy)
