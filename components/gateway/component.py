"""``Gateway``: the engine on the chosen runtime, its generated client key in the secret store."""

from __future__ import annotations

import pulumi
import pulumi_random as random

from components.gateway.args import KEY_ENV, GatewayArgs
from components.gateway.cloudrun import deploy_cloudrun
from components.gateway.containerapps import deploy_containerapps
from components.gateway.ecs import deploy_ecs
from components.gateway.kubernetes import deploy_kubernetes, secret_key
from components.secret_store import CloudSecret, CloudSecretArgs


class Gateway(pulumi.ComponentResource):
    """One OpenAI-compatible endpoint in front of the stack's deployments."""

    openai_base_url: pulumi.Output[str]
    """What OpenAI clients set as ``base_url``."""
    key_secret: pulumi.Output[str]
    """Where the client key is: the secret's ARN (AWS), ``projects/<p>/secrets/<name>`` (GCP) or
    Key Vault id (Azure)."""
    client_key: pulumi.Output[str]
    """The client key itself, as a Pulumi secret (encrypted in state; ``pulumi stack output
    --show-secrets gateway``)."""

    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scalepath:index:Gateway", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        runtime = args.runtime()
        # 48 letters and digits: ~285 bits, and no character that needs quoting in a header.
        key = random.RandomPassword(f"{name}-key", length=48, special=False, opts=child)
        stored = {KEY_ENV: CloudSecret(f"{name}-key", CloudSecretArgs(
            store=args.store, secret_name=args.key_secret_name, value=key.result,
            description="scalepath gateway client key (OpenAI API key of the gateway)", tags=args.tags), opts=child)}
        for env, secret in sorted(args.secrets.items()):
            stored[env] = CloudSecret(f"{name}-{secret_key(env)}", CloudSecretArgs(
                store=args.store, secret_name=secret.secret_name, value=secret.value,
                description=secret.description, tags=args.tags), opts=child)
        if runtime == "kubernetes":
            url = deploy_kubernetes(name, args, key.result, child)
        elif runtime == "ecs":
            url = deploy_ecs(name, args, {env: s.secret_id for env, s in stored.items()}, child)
        elif runtime == "cloudrun":
            url = deploy_cloudrun(name, args, {env: s.secret_name for env, s in stored.items()}, child)
        else:
            vault = f"https://{args.store.azure_vault_name}.vault.azure.net/secrets/"
            url = deploy_containerapps(name, args, {env: pulumi.Output.concat(vault, s.secret_name)
                                                    for env, s in stored.items()}, child)
        self.openai_base_url = url
        self.key_secret = stored[KEY_ENV].secret_id
        self.client_key = pulumi.Output.secret(key.result)
        self.register_outputs({"openai_base_url": self.openai_base_url, "key_secret": self.key_secret,
                               "client_key": self.client_key})
