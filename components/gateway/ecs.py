"""The gateway on ECS Fargate behind an Application Load Balancer (internal when private)."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from components.gateway.args import KEY_ENV, LIVENESS_PATH, PORT, GatewayArgs
from components.gateway.meter_aws import cloudwatch_alerts, collector_container, collector_log_policy
from components.tagging import aws_tags

_ASSUME_ECS_TASKS = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
LISTENER_PORT, HTTPS_PORT = 80, 443
#: TLS 1.3 and 1.2 only (ELB's recommended policy).
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def _policy(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def attach_invoke_policies(name: str, role: aws.iam.Role, args: GatewayArgs, opts: pulumi.ResourceOptions) -> None:
    """The routed SageMaker endpoints' own invoke policies, on the role the gateway runs as."""
    for index, policy_arn in enumerate(args.grants.sagemaker_invoke_policy_arns):
        aws.iam.RolePolicyAttachment(f"{name}-invoke-{index}", role=role.name, policy_arn=policy_arn, opts=opts)


def deploy_ecs(name: str, args: GatewayArgs, secrets: dict[str, pulumi.Input[str]],
               opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """Cluster, task definition, service, ALB and CPU autoscaling; returns the OpenAI base URL.

    ``secrets`` maps env name -> Secrets Manager ARN (read by the execution role at task start)."""
    ecs = args.ecs
    assert ecs is not None
    tags = aws_tags(args.tags)
    logs = aws.cloudwatch.LogGroup(f"{name}-logs", name=f"/scalepath/{args.physical_name}", retention_in_days=30,
                                   tags=tags, opts=opts)
    execution = aws.iam.Role(f"{name}-execution", assume_role_policy=_ASSUME_ECS_TASKS, tags=tags, opts=opts)
    aws.iam.RolePolicyAttachment(
        f"{name}-execution-managed", role=execution.name,
        policy_arn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy", opts=opts)
    kms = args.store.aws_kms_key_id
    if kms and not kms.startswith("arn:"):  # a key id: IAM names keys by ARN
        kms = f"arn:aws:kms:{ecs.region}:*:key/{kms}"
    aws.iam.RolePolicy(f"{name}-execution-secrets", role=execution.id, opts=opts,
                       policy=pulumi.Output.all(*secrets.values()).apply(lambda arns: _policy([
                           {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": list(arns)},
                           # A customer-managed key must also let the role decrypt the secrets.
                           *([{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": kms}] if kms else []),
                       ])))
    task_role = aws.iam.Role(f"{name}-task", assume_role_policy=_ASSUME_ECS_TASKS, tags=tags, opts=opts)
    attach_invoke_policies(name, task_role, args, opts)
    meter = args.meter
    emf_logs = None
    if meter is not None:  # the metrics collector sidecar writes CloudWatch EMF to its own group
        emf_logs = aws.cloudwatch.LogGroup(f"{name}-metrics", name=f"/scalepath/{args.physical_name}/metrics",
                                           retention_in_days=30, tags=tags, opts=opts)
        aws.iam.RolePolicy(f"{name}-task-metrics", role=task_role.id, policy=emf_logs.arn.apply(collector_log_policy),
                           opts=opts)

    def sidecars(v: dict[str, Any]) -> list[dict[str, Any]]:
        if meter is None:
            return []
        return [collector_container(args, v["group"], v["emf"], v["secrets"][KEY_ENV])]

    containers = pulumi.Output.all(plain=pulumi.Output.all(**args.plain_env()), secrets=pulumi.Output.all(**secrets),
                                   group=logs.name, emf=emf_logs.name if emf_logs else "").apply(lambda v: json.dumps([{
        "name": "gateway", "image": args.image, "essential": True,
        "entryPoint": args.command()[:2], "command": args.command()[2:],
        "portMappings": [{"containerPort": PORT, "protocol": "tcp"}],
        "environment": [{"name": k, "value": val} for k, val in sorted(v["plain"].items())],
        "secrets": [{"name": k, "valueFrom": arn} for k, arn in sorted(v["secrets"].items())],
        "readonlyRootFilesystem": False,
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": v["group"], "awslogs-region": ecs.region, "awslogs-stream-prefix": "gateway"}},
    }, *sidecars(v)]))
    task = aws.ecs.TaskDefinition(
        f"{name}-task", family=args.physical_name, requires_compatibilities=["FARGATE"], network_mode="awsvpc",
        cpu=str(int(args.cpu * 1024)), memory=str(int(args.memory_gib * 1024)),
        execution_role_arn=execution.arn, task_role_arn=task_role.arn, container_definitions=containers,
        runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"}, tags=tags, opts=opts)

    clients = [ecs.vpc_cidr] if args.private else ["0.0.0.0/0"]
    ports = [LISTENER_PORT, HTTPS_PORT] if ecs.certificate_arn else [LISTENER_PORT]
    alb_sg = aws.ec2.SecurityGroup(
        f"{name}-alb-sg", vpc_id=ecs.vpc_id, description="scalepath gateway load balancer",
        ingress=[{"protocol": "tcp", "from_port": port, "to_port": port, "cidr_blocks": clients,
                  "description": "OpenAI-compatible clients"} for port in ports],
        egress=[{"protocol": "tcp", "from_port": PORT, "to_port": PORT, "cidr_blocks": [ecs.vpc_cidr],
                 "description": "to the gateway tasks"}],
        tags={**tags, "Name": f"{name}-alb-sg"}, opts=opts)
    task_sg = aws.ec2.SecurityGroup(
        f"{name}-task-sg", vpc_id=ecs.vpc_id, description="scalepath gateway tasks",
        ingress=[{"protocol": "tcp", "from_port": PORT, "to_port": PORT, "security_groups": [alb_sg.id],
                  "description": "from the gateway load balancer"}],
        egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"],
                 "description": "backends: SageMaker, HF, other clouds (through NAT)"}],
        tags={**tags, "Name": f"{name}-task-sg"}, opts=opts)
    alb = aws.lb.LoadBalancer(
        f"{name}-alb", load_balancer_type="application", internal=args.private,
        subnets=ecs.load_balancer_subnet_ids, security_groups=[alb_sg.id], drop_invalid_header_fields=True,
        idle_timeout=600,  # long generations stream for minutes
        tags=tags, opts=opts)
    target = aws.lb.TargetGroup(
        f"{name}-tg", port=PORT, protocol="HTTP", target_type="ip", vpc_id=ecs.vpc_id,
        deregistration_delay=30,
        health_check={"path": LIVENESS_PATH, "matcher": "200", "interval": 15, "healthy_threshold": 2},
        tags=tags, opts=opts)
    forward = [{"type": "forward", "target_group_arn": target.arn}]
    redirect = [{"type": "redirect", "redirect": {"port": str(HTTPS_PORT), "protocol": "HTTPS",
                                                  "status_code": "HTTP_301"}}]
    listener = aws.lb.Listener(
        f"{name}-http", load_balancer_arn=alb.arn, port=LISTENER_PORT, protocol="HTTP",
        default_actions=redirect if ecs.certificate_arn else forward, tags=tags, opts=opts)
    if ecs.certificate_arn:
        listener = aws.lb.Listener(
            f"{name}-https", load_balancer_arn=alb.arn, port=HTTPS_PORT, protocol="HTTPS",
            certificate_arn=ecs.certificate_arn, ssl_policy=TLS_POLICY, default_actions=forward, tags=tags,
            opts=opts)
    cluster = aws.ecs.Cluster(f"{name}-cluster", settings=[{"name": "containerInsights", "value": "enabled"}],
                              tags=tags, opts=opts)
    service = aws.ecs.Service(
        f"{name}-service", cluster=cluster.arn, task_definition=task.arn, desired_count=args.min_replicas,
        launch_type="FARGATE", health_check_grace_period_seconds=120,
        network_configuration={"subnets": ecs.task_subnet_ids, "security_groups": [task_sg.id],
                               "assign_public_ip": False},
        load_balancers=[{"target_group_arn": target.arn, "container_name": "gateway", "container_port": PORT}],
        deployment_circuit_breaker={"enable": True, "rollback": True}, propagate_tags="SERVICE",
        tags=tags, opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[listener])))
    scaling = aws.appautoscaling.Target(
        f"{name}-scaling", service_namespace="ecs", scalable_dimension="ecs:service:DesiredCount",
        resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
        min_capacity=args.min_replicas, max_capacity=args.max_replicas, tags=tags, opts=opts)
    aws.appautoscaling.Policy(
        f"{name}-cpu", policy_type="TargetTrackingScaling", service_namespace=scaling.service_namespace,
        scalable_dimension=scaling.scalable_dimension, resource_id=scaling.resource_id,
        target_tracking_scaling_policy_configuration={
            "target_value": args.target_cpu_percent,
            "predefined_metric_specification": {"predefined_metric_type": "ECSServiceAverageCPUUtilization"}},
        opts=opts)
    if meter is not None:
        cloudwatch_alerts(name, args, alb.arn_suffix, opts, tags)
    return pulumi.Output.concat("https://" if ecs.certificate_arn else "http://", alb.dns_name, "/v1")
