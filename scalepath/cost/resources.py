"""Price recorded resources from their inputs (camelCase wire names, as the plan records them).

One pricer per billable resource type reads the properties that decide the bill (verified in
the installed provider SDKs): instance type, instance count and scaling bounds, spot flags.
Everything else is classified by ``data/service_prices.yaml`` (fixed charge, no charge,
metered) or reported with an unknown price.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components import catalog
from components.catalog import HourlyPrice, UnknownInstanceType, hourly_price
from scalepath.cost import tables
from scalepath.cost.lines import HOURS_PER_MONTH, Basis, CostLine, instance_monthly_usd
from scalepath.wire import PlannedResource
from stacks.config import ExpectedUsage

SAGEMAKER_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
SAGEMAKER_ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
SCALING_TARGET = "aws:appautoscaling/target:Target"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
GKE_NODE_POOL = "gcp:container/nodePool:NodePool"
AZURE_DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
VERTEX_GARDEN = "gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment"
DYNAMIC = "pulumi-python:dynamic:Resource"
HF_ENDPOINT_KIND = "huggingface:InferenceEndpoint"

#: Zones a regional GKE node pool spans when it names no ``nodeLocations`` (GKE's default).
GKE_DEFAULT_ZONES = 3


@dataclass(frozen=True)
class PricingContext:
    """What pricing needs beyond a resource's own inputs."""

    resources: Sequence[PlannedResource]
    default_region: Mapping[str, str | None] = field(default_factory=dict)
    """Cloud (``aws``, ``gcp``, ``azure``) -> region from the stack's provider config."""
    usage: Mapping[str, ExpectedUsage] = field(default_factory=dict)
    """Deployment name -> its ``expectedUsage``."""

    _indexes: dict[tuple[str, Callable[..., Any]], dict[Hashable, list[tuple[int, PlannedResource]]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def region(self, cloud: str, inputs: Mapping[str, Any], key: str = "region") -> str | None:
        """The resource's own region input, else the stack's."""
        value = inputs.get(key)
        return value if isinstance(value, str) else self.default_region.get(cloud)

    def matching(self, type_: str, keys: Callable[[PlannedResource], Iterable[Hashable]],
                 *wanted: Hashable) -> list[PlannedResource]:
        """The resources of ``type_``, in plan order, for which ``keys`` gives one of ``wanted``.

        Indexed once per type and key function: a pricer that looks up related resources (an
        endpoint's scaling target) keeps the estimate linear in resources.
        """
        index = self._indexes.get((type_, keys))
        if index is None:
            index = self._indexes[(type_, keys)] = {}
            for position, resource in enumerate(self.resources):
                if resource.type == type_:
                    for key in set(keys(resource)):
                        index.setdefault(key, []).append((position, resource))
        found = {position: resource for value in wanted for position, resource in index.get(value, ())}
        return [found[position] for position in sorted(found)]


def deployment_of(inputs: Mapping[str, Any]) -> str | None:
    """The ``deployment`` cost tag/label a resource carries, if any (Kubernetes objects: in ``metadata``)."""
    metadata = inputs.get("metadata")
    for tags in (inputs.get("tags"), inputs.get("labels"),
                 metadata.get("labels") if isinstance(metadata, Mapping) else None):
        if isinstance(tags, Mapping) and isinstance(tags.get("deployment"), str):
            return tags["deployment"]
    return None


def _int(value: Any, default: int | None = None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


class _Unpriced(Exception):
    """This resource's price is unknown; the message says why."""


def _hourly(family: str, instance_type: Any, region: str | None, spot: bool = False) -> HourlyPrice:
    if not isinstance(instance_type, str):
        raise _Unpriced(f"instance type not known at plan time ({instance_type!r})")
    try:
        price = hourly_price(family, instance_type, region, spot)
    except UnknownInstanceType as error:
        raise _Unpriced(str(error)) from None
    except FileNotFoundError:
        raise _Unpriced(f"no {family} price table (components/data/instances/{family}.yaml)") from None
    if price is None:
        raise _Unpriced(f"{family} {instance_type}: price not in the catalogue"
                        + (" for spot" if spot else ""))
    return price


def _instances_line(resource: PlannedResource, price: HourlyPrice, low: int, high: int,
                    what: str) -> CostLine:
    return CostLine(
        urn=resource.urn, type=resource.type, name=resource.name, basis=Basis.INSTANCES,
        monthly_usd=instance_monthly_usd(price.usd, low), at_max_usd=instance_monthly_usd(price.usd, high),
        detail=f"{what}: {low}..{high} x {price.note} x {HOURS_PER_MONTH} h",
        deployment=deployment_of(resource.inputs),
    )


# --- SageMaker ---------------------------------------------------------------------------

def _dependencies(resource: PlannedResource) -> list[str]:
    return resource.dependencies


def _urn(resource: PlannedResource) -> tuple[str]:
    return (resource.urn,)


_SCALED_VARIANT = re.compile(r"endpoint/([^/]+)/variant/([^/]+)")


def _endpoint_keys(endpoint: PlannedResource) -> list[tuple[str, Any]]:
    """A SageMaker endpoint is found by what it depends on and by its config's name."""
    config = endpoint.inputs.get("endpointConfigName")
    return [("urn", d) for d in endpoint.dependencies] + ([("config", config)] if isinstance(config, str) else [])


def _target_keys(target: PlannedResource) -> list[tuple[str, Any]]:
    """A scaling target is found by what it depends on and by the endpoint its resourceId names."""
    match = _SCALED_VARIANT.fullmatch(str(target.inputs.get("resourceId", "")))
    if match is None:  # not an endpoint variant's target
        return []
    return [("urn", d) for d in target.dependencies] + [("endpoint", match[1])]


def _sagemaker_scaling(config: PlannedResource, ctx: PricingContext) -> dict[str, tuple[int, int]]:
    """Variant name -> (minCapacity, maxCapacity) of the autoscaling targets on this config's endpoint."""
    name = config.inputs.get("name")
    endpoints = ctx.matching(SAGEMAKER_ENDPOINT, _endpoint_keys, ("urn", config.urn),
                             *([("config", name)] if name else []))
    wanted = [("urn", e.urn) for e in endpoints] + [("endpoint", e.inputs["name"]) for e in endpoints
                                                    if isinstance(e.inputs.get("name"), str)]
    scaling: dict[str, tuple[int, int]] = {}
    for target in ctx.matching(SCALING_TARGET, _target_keys, *wanted):
        variant = _SCALED_VARIANT.fullmatch(str(target.inputs["resourceId"]))[2]  # type: ignore[index]
        low, high = _int(target.inputs.get("minCapacity")), _int(target.inputs.get("maxCapacity"))
        if low is not None and high is not None:
            scaling[variant] = (low, high)
    return scaling


def _sagemaker_serverless(serverless: Mapping[str, Any], usage: ExpectedUsage | None) -> tuple[float, str]:
    rates = tables.service_prices().sagemaker_serverless
    memory_gb = (_int(serverless.get("memorySizeInMb")) or 0) / 1024
    provisioned = _int(serverless.get("provisionedConcurrency"), 0) or 0
    fixed = provisioned * memory_gb * rates.provisioned_usd_per_gb_second * 3600 * HOURS_PER_MONTH
    if usage is None:
        raise _Unpriced("serverless variant billed per use; set the deployment's expectedUsage")
    seconds = (rates.assumed_seconds_per_request
               + rates.assumed_seconds_per_output_token * usage.output_tokens_per_request)
    variable = usage.requests_per_month * seconds * memory_gb * rates.usd_per_gb_second
    return fixed + variable, (f"serverless {memory_gb:g} GB x {usage.requests_per_month:,} requests x "
                              f"~{seconds:g} s (assumed) x ${rates.usd_per_gb_second:g}/GB-s"
                              + (f" + {provisioned} provisioned" if provisioned else ""))


def price_sagemaker_config(resource: PlannedResource, ctx: PricingContext) -> CostLine:
    """``productionVariants[]``: instanceType x initialInstanceCount (or the autoscaling target's
    min/maxCapacity, or ``managedInstanceScaling`` min/maxInstanceCount when enabled), or a
    serverless variant priced per use."""
    region = ctx.region("aws", resource.inputs)
    scaling = _sagemaker_scaling(resource, ctx)
    deployment = deployment_of(resource.inputs)
    low_total = high_total = 0.0
    details, basis = [], Basis.INSTANCES
    for variant in resource.inputs.get("productionVariants") or []:
        serverless = variant.get("serverlessConfig")
        if serverless:
            cost, note = _sagemaker_serverless(serverless, ctx.usage.get(deployment or ""))
            low_total, high_total, basis = low_total + cost, high_total + cost, Basis.USAGE
            details.append(note)
            continue
        price = _hourly("sagemaker", variant.get("instanceType"), region)
        count = _int(variant.get("initialInstanceCount"), 1) or 0
        managed = variant.get("managedInstanceScaling") or {}
        if managed.get("status") == "ENABLED":  # inference components: SageMaker scales the instances
            count_range = (_int(managed.get("minInstanceCount"), count) or 0,
                           _int(managed.get("maxInstanceCount"), count) or 0)
        else:
            count_range = (count, count)
        low, high = scaling.get(variant.get("variantName", ""), count_range)
        low_total += instance_monthly_usd(price.usd, low)
        high_total += instance_monthly_usd(price.usd, high)
        details.append(f"variant {variant.get('variantName', '?')}: {low}..{high} x "
                       f"{variant.get('instanceType')} at {price.note} x {HOURS_PER_MONTH} h")
    if not details:
        raise _Unpriced("no productionVariants recorded")
    return CostLine(resource.urn, resource.type, resource.name, basis, low_total, high_total,
                    "; ".join(details), deployment)


# --- EKS / GKE node pools ----------------------------------------------------------------

def price_eks_node_group(resource: PlannedResource, ctx: PricingContext) -> CostLine:
    """``instanceTypes[0]`` x ``scalingConfig`` min/max; ``capacityType: SPOT`` gets the spot discount."""
    inputs = resource.inputs
    types = inputs.get("instanceTypes") or []
    scaling = inputs.get("scalingConfig") or {}
    spot = inputs.get("capacityType") == "SPOT"
    price = _hourly("ec2", types[0] if types else None, ctx.region("aws", inputs), spot)
    low, high = _int(scaling.get("minSize"), 0), _int(scaling.get("maxSize"), 0)
    desired = _int(scaling.get("desiredSize"))
    what = f"{types[0]} nodes" + (f" (desired {desired})" if desired is not None else "")
    if len(types) > 1:
        what += f"; priced as the first of {', '.join(types)}"
    return _instances_line(resource, price, low or 0, high or 0, what)


def _gce_hourly(machine_type: Any, accelerators: Sequence[Mapping[str, Any]], region: str | None,
                spot: bool, family: str) -> HourlyPrice:
    """A GCE machine's price; accelerators add their own rows unless the machine type already
    includes GPUs (A2/A3/G2 rows carry ``gpuCount`` and an all-in price)."""
    machine = _hourly(family, machine_type, region, spot)
    if catalog.load(family).get(machine_type).gpu_count > 0:
        return machine
    total, notes = machine.usd, [machine.note]
    for accelerator in accelerators:
        count = _int(accelerator.get("count") or accelerator.get("acceleratorCount"), 1) or 0
        kind = accelerator.get("type") or accelerator.get("acceleratorType")
        gpu = _hourly(family, kind, region, spot)
        total += gpu.usd * count
        notes.append(f"{count} x {kind} at {gpu.note}")
    return HourlyPrice(total, " + ".join(notes))


def price_gke_node_pool(resource: PlannedResource, ctx: PricingContext) -> CostLine:
    """``nodeConfig.machineType`` (+ ``guestAccelerators``) x ``autoscaling`` or ``nodeCount``."""
    inputs = resource.inputs
    node_config = inputs.get("nodeConfig") or {}
    location = inputs.get("location")
    zonal = isinstance(location, str) and re.search(r"-[a-z]$", location) is not None
    region = location[:-2] if zonal else (location if isinstance(location, str) else ctx.default_region.get("gcp"))
    spot = bool(node_config.get("spot") or node_config.get("preemptible"))
    price = _gce_hourly(node_config.get("machineType"), node_config.get("guestAccelerators") or [],
                        region, spot, "gce")
    zones = len(inputs.get("nodeLocations") or []) or (1 if zonal else GKE_DEFAULT_ZONES)
    autoscaling = inputs.get("autoscaling") or {}
    count = _int(inputs.get("nodeCount"), _int(inputs.get("initialNodeCount"), 1)) or 0
    if _int(autoscaling.get("totalMinNodeCount")) is not None or _int(autoscaling.get("totalMaxNodeCount")) is not None:
        low, high = _int(autoscaling.get("totalMinNodeCount"), 0), _int(autoscaling.get("totalMaxNodeCount"), 0)
    elif autoscaling:
        low = (_int(autoscaling.get("minNodeCount"), 0) or 0) * zones
        high = (_int(autoscaling.get("maxNodeCount"), 0) or 0) * zones
    else:
        low = high = count * zones
    return _instances_line(resource, price, low or 0, high or 0,
                           f"{node_config.get('machineType')} nodes in {zones} zone(s)")


# --- Azure ML, Vertex AI, Hugging Face ---------------------------------------------------

def price_azure_deployment(resource: PlannedResource, ctx: PricingContext) -> CostLine:
    """``properties.instanceType`` (the VM size; ``sku.name`` when absent) x ``sku.capacity``,
    or ``properties.scaleSettings`` min/maxInstances with target-utilisation scaling."""
    inputs = resource.inputs
    properties = inputs.get("properties") or {}
    sku = inputs.get("sku") or {}
    instance_type = properties.get("instanceType") or sku.get("name")
    price = _hourly("azureml", instance_type, ctx.region("azure", inputs, "location"))
    count = _int(sku.get("capacity"), 1) or 0
    scale = properties.get("scaleSettings") or {}
    low = _int(scale.get("minInstances"), count) or 0
    high = _int(scale.get("maxInstances"), count) or 0
    return _instances_line(resource, price, low, high, f"{instance_type} instances")


def price_vertex_garden(resource: PlannedResource, ctx: PricingContext) -> CostLine:
    """``deployConfig.dedicatedResources.machineSpec`` x ``minReplicaCount``/``maxReplicaCount``."""
    inputs = resource.inputs
    dedicated = (inputs.get("deployConfig") or {}).get("dedicatedResources") or {}
    spec = dedicated.get("machineSpec") or {}
    accelerators = [spec] if spec.get("acceleratorType") else []
    price = _gce_hourly(spec.get("machineType"), accelerators, ctx.region("gcp", inputs, "location"),
                        bool(dedicated.get("spot")), "vertex")
    low = _int(dedicated.get("minReplicaCount"), 1) or 0
    high = _int(dedicated.get("maxReplicaCount"), low) or 0
    return _instances_line(resource, price, low, high, f"{spec.get('machineType')} replicas")


def price_hf_endpoint(resource: PlannedResource, ctx: PricingContext) -> CostLine:
    """An HF Inference Endpoint (dynamic resource): row ``vendor/instanceType/instanceSize`` of the
    ``hf`` table x ``minReplica``/``maxReplica`` (scale-to-zero bills only while running)."""
    inputs = resource.inputs
    key = "/".join(str(inputs.get(k)) for k in ("vendor", "instanceType", "instanceSize"))
    price = _hourly("hf", key, None)
    low, high = _int(inputs.get("minReplica"), 1) or 0, _int(inputs.get("maxReplica"), 1) or 0
    return _instances_line(resource, price, low, high, f"{key} replicas ({inputs.get('region')})")


# --- Serverless containers (the gateway) ---------------------------------------------------

ECS_SERVICE = "aws:ecs/service:Service"
ECS_TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
CLOUD_RUN_SERVICE = "gcp:cloudrunv2/service:Service"
CONTAINER_APP = "azure-native:app:ContainerApp"


def _container_line(resource: PlannedResource, rate_key: str, vcpu: Any, gib: float | None,
                    low: int, high: int) -> CostLine:
    """Replicas x (vCPU x rate + GiB x rate) x hours."""
    if not isinstance(vcpu, (int, float)) or gib is None:
        raise _Unpriced(f"cpu/memory per replica not known at plan time ({vcpu!r}, {gib!r})")
    rate = tables.service_prices().containers[rate_key]
    hourly = vcpu * rate.usd_per_vcpu_hour + gib * rate.usd_per_gib_hour
    price = HourlyPrice(hourly, f"({vcpu:g} vCPU x ${rate.usd_per_vcpu_hour:g} + {gib:g} GiB x "
                                f"${rate.usd_per_gib_hour:g})/h; {rate.reason}")
    return _instances_line(resource, price, low, high, "replicas")


def price_ecs_service(resource: PlannedResource, ctx: PricingContext) -> CostLine:
    """Fargate tasks: the task definition's ``cpu`` (units) and ``memory`` (MiB) x the service's
    ``desiredCount``, or its Application Auto Scaling target's min/max capacity."""
    task = next(iter(ctx.matching(ECS_TASK_DEFINITION, _urn, *resource.dependencies)), None)
    if task is None:
        raise _Unpriced("the service's task definition is not in the plan")
    try:
        vcpu, gib = int(task.inputs["cpu"]) / 1024, int(task.inputs["memory"]) / 1024
    except (KeyError, TypeError, ValueError):
        raise _Unpriced("task cpu/memory not known at plan time") from None
    count = _int(resource.inputs.get("desiredCount"), 1) or 0
    target = next(iter(ctx.matching(SCALING_TARGET, _dependencies, resource.urn)), None)
    low = _int(target.inputs.get("minCapacity"), count) if target else count
    high = _int(target.inputs.get("maxCapacity"), count) if target else count
    return _container_line(resource, "fargate", vcpu, gib, low or 0, high or 0)


def price_cloud_run(resource: PlannedResource, ctx: PricingContext) -> CostLine:
    """``template.scaling`` min/max instances x the cpu/memory limits of every container (the
    engine and its metrics sidecar: Cloud Run bills each container's limits)."""
    template = resource.inputs.get("template") or {}
    scaling = template.get("scaling") or {}
    vcpu, gib = 0.0, 0.0
    for container in template.get("containers") or [{}]:
        limits = (container.get("resources") or {}).get("limits") or {}
        try:
            vcpu += float(limits.get("cpu", "1"))
        except ValueError:
            raise _Unpriced(f"cpu limit {limits.get('cpu')!r} is not a number of vCPUs") from None
        memory = _gib(limits.get("memory", "512Mi"))
        if memory is None:
            raise _Unpriced(f"memory limit {limits.get('memory')!r} is not a quantity")
        gib += memory
    low = _int(scaling.get("minInstanceCount"), 0) or 0
    high = _int(scaling.get("maxInstanceCount"), max(low, 1)) or 0
    return _container_line(resource, "cloudRun", vcpu, gib, low, high)


def price_container_app(resource: PlannedResource, ctx: PricingContext) -> CostLine:
    """``template.scale`` min/max replicas x the cpu/memory of every container (the engine and its
    metrics sidecar)."""
    template = resource.inputs.get("template") or {}
    scale = template.get("scale") or {}
    containers = [c.get("resources") or {} for c in template.get("containers") or [{}]]
    cpus, gibs = [r.get("cpu") for r in containers], [_gib(r.get("memory")) for r in containers]
    low = _int(scale.get("minReplicas"), 0) or 0
    high = _int(scale.get("maxReplicas"), 10) or 0
    if not all(isinstance(c, (int, float)) for c in cpus) or None in gibs:
        raise _Unpriced(f"cpu/memory per container not known at plan time ({cpus!r}, {gibs!r})")
    return _container_line(resource, "containerApps", sum(cpus), sum(g for g in gibs if g is not None), low, high)


PRICERS: dict[str, Callable[[PlannedResource, PricingContext], CostLine]] = {
    ECS_SERVICE: price_ecs_service,
    CLOUD_RUN_SERVICE: price_cloud_run,
    CONTAINER_APP: price_container_app,
    SAGEMAKER_CONFIG: price_sagemaker_config,
    EKS_NODE_GROUP: price_eks_node_group,
    GKE_NODE_POOL: price_gke_node_pool,
    AZURE_DEPLOYMENT: price_azure_deployment,
    VERTEX_GARDEN: price_vertex_garden,
}


def price_resource(resource: PlannedResource, ctx: PricingContext) -> CostLine:
    """The cost line of one custom resource (unknown price when nothing prices it)."""
    pricer = PRICERS.get(resource.type)
    if resource.type == DYNAMIC and resource.inputs.get("kind") == HF_ENDPOINT_KIND:
        pricer = price_hf_endpoint
    try:
        if pricer is not None:
            return pricer(resource, ctx)
        return _classified(resource)
    except _Unpriced as reason:
        return CostLine(resource.urn, resource.type, resource.name, Basis.UNKNOWN, None, None,
                        str(reason), deployment_of(resource.inputs))


def _path(inputs: Mapping[str, Any], path: str) -> Any:
    """The input at a dotted path (``criteria.allOf``), or ``None``."""
    value: Any = inputs
    for key in path.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _rule_for(resource: PlannedResource) -> tables.PriceRule:
    """The resource's rule, with ``by`` cases resolved from its inputs."""
    rule = tables.service_prices().rule_for(resource.type)
    if rule is None:
        raise _Unpriced("no price known for this resource type (add it to components/data/service_prices.yaml)")
    while rule.by is not None:
        value = _path(resource.inputs, rule.by)
        key = rule.absent if value is None else str(value)
        if key not in rule.cases:
            raise _Unpriced(f"{rule.by} = {value!r}: no price known for this case "
                            f"(known: {', '.join(rule.cases)}; components/data/service_prices.yaml)")
        rule = rule.cases[key]
    return rule


def _classified(resource: PlannedResource) -> CostLine:
    rule = _rule_for(resource)

    def line(basis: Basis, value: float | None, detail: str) -> CostLine:
        return CostLine(resource.urn, resource.type, resource.name, basis, value, value,
                        f"{detail} ({rule.reason})", deployment_of(resource.inputs))

    if rule.basis == "no-charge":
        return line(Basis.NO_CHARGE, 0.0, "no charge by itself")
    if rule.basis == "metered":
        return line(Basis.METERED, None, "billed by use; not estimated")
    count, counted = 1.0, []
    if rule.per_gib is not None:
        quantity = _path(resource.inputs, rule.per_gib)
        size = _gib(quantity)
        if size is None:
            raise _Unpriced(f"priced per GiB, but {rule.per_gib} is not a known size at plan time ({quantity!r})")
        count *= size
        counted.append(f"{rule.per_gib} {quantity}")
    for path in rule.per:
        items = _path(resource.inputs, path)
        if not isinstance(items, list):
            raise _Unpriced(f"priced per {rule.unit}, but {path} is not known at plan time ({items!r})")
        count *= len(items)
        counted.append(f"{len(items)} {path}")
    unit_month = rule.usd_per_unit_month or 0.0
    if not counted:
        return line(Basis.FIXED, unit_month, rule.price_note)
    return line(Basis.FIXED, unit_month * count,
                f"{count:g} {rule.unit} ({' x '.join(counted)}) x {rule.price_note}")


_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)([KMGTPE]i?)?")
_BYTES = {None: 1, **{f"{p}i": 1024 ** (i + 1) for i, p in enumerate("KMGTPE")},
          **{p: 1000 ** (i + 1) for i, p in enumerate("KMGTPE")}}


def _gib(quantity: Any) -> float | None:
    """GiB in a Kubernetes quantity (``200Gi``, ``500G``, ``1Ti``), or ``None`` if it isn't one."""
    match = _QUANTITY.fullmatch(quantity) if isinstance(quantity, str) else None
    return float(match[1]) * _BYTES[match[2]] / 1024 ** 3 if match else None
