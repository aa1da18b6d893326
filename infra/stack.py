"""The one stack of the retrain pipeline: storage, functions, jobs, the state machine, triggers,
alarms and the ML leads' role. Pipeline settings come from `retrain.toml`; account-specific ones
from the CDK context (`infra/settings.py`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import ArnFormat, Aws, CfnOutput, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infra.access import MlLeadsRole
from infra.approvals import RegistryApprovals
from infra.catalog import ProcessedDataCatalog
from infra.findings import acknowledge, objects_under, stack_arn
from infra.functions import LambdaCode, TaskFunction, TaskSpec
from infra.images import SklearnImage, SklearnImageRegistry
from infra.jobs import PrepareDataJob, SageMakerRole, TrainingCode
from infra.monitoring import DriftAlarm, EndpointAlarms, QualityAlarm
from infra.orchestration import DefinitionFile, RetrainStateMachine, Targets
from infra.settings import InfraSettings
from infra.storage import DataBucket, Notifications, PipelineKey, StateTable
from infra.streaming import StreamingIngestion
from infra.triggers import RetrainTriggers
from retrain.cadence import Cadence
from retrain.config import RetrainConfig
from retrain.monitoring import monitoring_schedule_name
from statemachines.placeholders import Placeholder

DEFINITION_FILE = Path("definitions") / "retrain.asl.json"
METRICS_NAMESPACE = "RetrainPipeline"

# The functions the definition invokes, by the placeholder of their ARN.
TASKS: dict[Placeholder, TaskSpec] = {
    Placeholder.VALIDATE_INPUT_FUNCTION_ARN: TaskSpec(
        "validate_input", "Parses the execution input and resolves the run plan", timeout_seconds=30
    ),
    Placeholder.CHECK_FOR_NEW_DATA_FUNCTION_ARN: TaskSpec(
        "check_for_new_data", "Counts landing objects after the watermark", timeout_seconds=90
    ),
    Placeholder.COMPARE_WITH_CHAMPION_FUNCTION_ARN: TaskSpec(
        "compare_with_champion", "Applies the promotion policy to the evaluation metrics"
    ),
    Placeholder.REQUEST_APPROVAL_FUNCTION_ARN: TaskSpec(
        "request_approval", "Stores the approval task token and notifies the ML leads"
    ),
    Placeholder.PROMOTE_CHAMPION_FUNCTION_ARN: TaskSpec(
        "promote_champion", "Records the new champion and approves its model package"
    ),
    Placeholder.NOTIFY_FUNCTION_ARN: TaskSpec("notify", "Publishes the outcome of a run"),
}
STARTER = TaskSpec("start_retrain", "Starts a retrain unless one is running", timeout_seconds=30, memory_mb=256)


class RetrainStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RetrainConfig,
        settings: InfraSettings,
        project_root: Path,
        config_file: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        name = config.pipeline.name
        data_config = config.data
        deployment = config.deployment
        model_package_group = f"{name}-models"
        Tags.of(self).add("retrain:pipeline", name)

        # --- storage and notifications ------------------------------------------------------
        data = DataBucket(self, "Data", data_config)
        table = StateTable(self, "State", table_name=f"{name}-state").table
        key = PipelineKey(self, "Encryption", alias=f"alias/{name}").key
        topic = Notifications(self, "Notifications", topic_name=f"{name}-notifications", key=key).topic

        # --- Lambda functions ----------------------------------------------------------------
        code = LambdaCode(
            self,
            "LambdaCode",
            project_root=project_root,
            config_file=config_file,
            layer_version=settings.powertools_layer_version,
            layer_arn=settings.powertools_layer_arn,
        )
        environment = {
            "TOPIC_ARN": topic.topic_arn,
            "POWERTOOLS_SERVICE_NAME": name,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "RETRAIN_RUN_DEFAULTS": json.dumps(settings.run_defaults, sort_keys=True),
        }
        functions = {
            placeholder: TaskFunction(
                self,
                _construct_id(spec),
                spec=spec,
                code=code,
                function_name=f"{name}-{spec.slug}",
                environment=environment,
            )
            for placeholder, spec in TASKS.items()
        }
        self._grant_task_permissions(
            functions,
            data,
            table.table_arn,
            topic.topic_arn,
            key.key_arn,
            model_package_group,
            error_prefix=config.stream.error_prefix if config.stream else None,
        )

        # --- jobs --------------------------------------------------------------------------
        jobs_dir = project_root / "jobs"
        training_code = TrainingCode(self, "TrainingCode", jobs_dir)
        image = SklearnImage(self, "SklearnImage", SklearnImageRegistry.from_sdk(config.training.framework_version))
        sagemaker_role = SageMakerRole(self, "SageMaker", data=data, code=training_code, image=image)
        catalog = ProcessedDataCatalog(self, "Catalog", settings=config.catalog, workgroup=name, data=data)
        glue_job = PrepareDataJob(
            self,
            "PrepareData",
            job_name=f"{name}-prepare-data",
            jobs_dir=jobs_dir,
            settings=config.glue,
            data=data,
            key=key,
            catalog=catalog,
        )
        registry = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=model_package_group,
            model_package_group_description=f"Candidates and champions of the {name} retrain pipeline",
        )

        # --- the state machine -------------------------------------------------------------
        substitutions: dict[Placeholder, str] = {
            **{placeholder: function.arn for placeholder, function in functions.items()},
            Placeholder.DATA_BUCKET_NAME: data.bucket.bucket_name,
            Placeholder.STATE_TABLE_NAME: table.table_name,
            Placeholder.GLUE_JOB_NAME: glue_job.job.ref,
            Placeholder.SAGEMAKER_ROLE_ARN: sagemaker_role.arn,
            Placeholder.SKLEARN_IMAGE_URI: image.image_uri,
            Placeholder.TRAINING_CODE_URI: training_code.uri,
            Placeholder.CODE_VERSION: training_code.version,
            Placeholder.MODEL_PACKAGE_GROUP_NAME: model_package_group,
            Placeholder.ENDPOINT_NAME: deployment.endpoint_name,
        }
        machine = RetrainStateMachine(
            self,
            "Retrain",
            name=name,
            definition=DefinitionFile(project_root / DEFINITION_FILE),
            substitutions=substitutions,
            targets=Targets(
                function_arns=[function.arn for function in functions.values()],
                glue_job_arn=glue_job.arn,
                sagemaker_role=sagemaker_role.role,
                table_arn=table.table_arn,
                endpoint_name=deployment.endpoint_name,
                model_package_group=model_package_group,
                monitoring_schedule=(
                    monitoring_schedule_name(deployment.endpoint_name) if config.monitoring.enabled else None
                ),
            ),
        )
        # The group is substituted by name, not by reference: order its creation explicitly.
        machine.state_machine.node.add_dependency(registry)

        # --- triggers ------------------------------------------------------------------------
        starter = TaskFunction(
            self,
            _construct_id(STARTER),
            spec=STARTER,
            code=code,
            function_name=f"{name}-{STARTER.slug}",
            environment={
                **environment,
                "STATE_MACHINE_ARN": machine.arn,
                "STATE_TABLE_NAME": table.table_name,
                "PIPELINE_NAME": name,
            },
            # Serializes the running-check, the queue and the start (see retrain/triggers.py).
            reserved_concurrency=settings.starter_reserved_concurrency or None,
        )
        starter.allow(
            iam.PolicyStatement(actions=["states:ListExecutions", "states:StartExecution"], resources=[machine.arn])
        )
        starter.allow(
            iam.PolicyStatement(
                actions=["states:DescribeExecution"],
                resources=[
                    self.format_arn(
                        service="states",
                        resource="execution",
                        resource_name=f"{name}:*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        acknowledge(
            starter.role,
            "AwsSolutions-IAM5",
            "The starter describes executions of this state machine by name (a trigger's name may be taken "
            "by an ended run); execution names are per run, so the ARN ends in '*' within this machine.",
            findings=[stack_arn("states", f"execution:{name}:*")],
        )
        # The trigger queue: one item of the pipeline's partition (retrain.state_table).
        starter.allow(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                resources=[table.table_arn],
                conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [name]}},
            )
        )
        drift = quality = None
        if config.monitoring.enabled:
            drift_period = Cadence.parse(
                {"ScheduleExpression": config.monitoring.schedule_expression}
            ).longest_gap_seconds
            drift = DriftAlarm(
                self,
                "DriftAlarm",
                endpoint_name=deployment.endpoint_name,
                schedule_name=monitoring_schedule_name(deployment.endpoint_name),
                # The columns the baseline covers: the model's raw inputs (jobs/evaluate.py).
                features=config.dataset.feature_columns,
                threshold=config.monitoring.drift_threshold,
                period_seconds=drift_period,
                topic=topic,
            )
            drift.grant_describe(starter.role)
            threshold = config.quality_threshold
            if threshold is not None:
                quality = QualityAlarm(
                    self,
                    "QualityAlarm",
                    endpoint_name=deployment.endpoint_name,
                    schedule_name=monitoring_schedule_name(deployment.endpoint_name),
                    metric=config.promotion.metric,
                    direction=config.promotion.direction,
                    threshold=threshold,
                    period_seconds=drift_period,
                    topic=topic,
                )
        RetrainTriggers(
            self,
            "Triggers",
            pipeline=config.pipeline,
            starter=starter,
            state_machine_arn=machine.arn,
            bucket=data.bucket,
            landing_prefix=data_config.landing_prefix,
            drift_alarm=drift.alarm if drift else None,
            quality_alarm=quality.alarm if quality else None,
        )

        # --- streaming ingestion (with a [stream] table): records land as files do ----------
        streaming = None
        if config.stream is not None:
            streaming = StreamingIngestion(
                self,
                "Streaming",
                name=name,
                stream=config.stream,
                data=data,
                timestamp_column=config.dataset.timestamp_column,
                topic=topic,
            )

        # --- alarms and people ---------------------------------------------------------------
        alarms = EndpointAlarms(
            self, "EndpointAlarms", deployment=deployment, topic=topic, period_seconds=settings.alarm_period_seconds
        )
        # SageMaker reads the auto-rollback alarms with the model's execution role
        # (SageMaker developer guide, deployment-guardrails-configuration).
        alarms.grant_describe(sagemaker_role.role)
        leads = MlLeadsRole(
            self,
            "MLLeads",
            principal_arn=settings.ml_leads_principal,
            state_machine_name=name,
            state_machine_arn=machine.arn,
            table_arn=table.table_arn,
            model_package_group=model_package_group,
            data=data,
        )

        RegistryApprovals(
            self,
            "RegistryApprovals",
            name=name,
            code=code,
            environment=environment,
            table_arn=table.table_arn,
            table_name=table.table_name,
            model_package_group=model_package_group,
        )

        # --- outputs -------------------------------------------------------------------------
        console = f"https://{Aws.REGION}.console.aws.amazon.com"
        outputs = {
            "StateMachineArn": (machine.arn, "The retrain state machine"),
            "StateMachineConsoleUrl": (
                f"{console}/states/home?region={Aws.REGION}#/statemachines/view/{machine.arn}",
                "Executions of the retrain state machine in the Step Functions console",
            ),
            "DataBucketName": (
                data.bucket.bucket_name,
                f"Upload new data under s3://<bucket>/{data_config.landing_prefix}",
            ),
            "NotificationTopicArn": (topic.topic_arn, "Approval requests and failures"),
            "StateTableName": (table.table_name, "Watermark, champion and approval records"),
            "MLLeadsRoleArn": (leads.arn, "Assume this role to approve or reject a candidate"),
            "ModelPackageGroupName": (model_package_group, "The model registry group of candidates"),
            "ModelRegistryConsoleUrl": (
                f"{console}/sagemaker/home?region={Aws.REGION}#/model-registry/{model_package_group}",
                "The model package group in the SageMaker console (Studio: Models > Registered models)",
            ),
            "EndpointName": (deployment.endpoint_name, "The endpoint the pipeline deploys to"),
            "GlueJobName": (glue_job.job.ref, "The data preparation job"),
            "CatalogDatabaseName": (catalog.database.ref, "The Glue database of the processed data (Athena)"),
            "CatalogTableName": (config.catalog.table, "The table the job registers each run's splits in"),
            "AthenaWorkGroupName": (catalog.workgroup.ref, "Run Athena queries of the catalog here"),
            "StarterFunctionName": (starter.function.function_name, "Invoke to start a retrain by hand"),
            "CodeVersion": (training_code.version, "SHA-256 of the jobs/ archive the jobs run"),
        }
        if streaming is not None:
            outputs["EventStreamName"] = (streaming.stream.stream_name, "Producers put JSON records here")
            outputs["LandingDeliveryStreamName"] = (
                str(streaming.delivery.delivery_stream_name),
                "Delivers the event stream into the landing prefix",
            )
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)

    def _grant_task_permissions(
        self,
        functions: dict[Placeholder, TaskFunction],
        data: DataBucket,
        table_arn: str,
        topic_arn: str,
        key_arn: str,
        model_package_group: str,
        error_prefix: str | None,
    ) -> None:
        """What each handler's calls need (see tasks/ and tasks/_aws/), and nothing else."""
        prefixes = data.data
        # With [stream], CheckForNewData lists and reads the delivery stream's error prefix too.
        error_prefixes = [error_prefix] if error_prefix else []

        def table(*actions: str) -> iam.PolicyStatement:
            return iam.PolicyStatement(actions=[f"dynamodb:{action}" for action in actions], resources=[table_arn])

        publish = [
            iam.PolicyStatement(actions=["sns:Publish"], resources=[topic_arn]),
            # The topic is KMS-encrypted: SNS encrypts each message with a data key of the caller's.
            iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key_arn]),
        ]
        group = model_package_group.lower()
        grants: dict[Placeholder, list[iam.PolicyStatement]] = {
            # Pure: parses the input and plans the run from retrain.toml.
            Placeholder.VALIDATE_INPUT_FUNCTION_ARN: [],
            # Watermark and champion records; lists the landing prefix after the watermark.
            # With [stream], counts the refused records of the run's window: lists and reads the error prefix.
            Placeholder.CHECK_FOR_NEW_DATA_FUNCTION_ARN: [
                table("GetItem"),
                data.list_statement(prefixes.landing_prefix, *error_prefixes),
                *[iam.PolicyStatement(actions=["s3:GetObject"], resources=[data.objects(p)]) for p in error_prefixes],
            ],
            # Reads evaluation.json of the run.
            Placeholder.COMPARE_WITH_CHAMPION_FUNCTION_ARN: [
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[data.objects(prefixes.models_prefix)])
            ],
            # Stores the task token with the approval record, claims the notification, publishes.
            Placeholder.REQUEST_APPROVAL_FUNCTION_ARN: [table("UpdateItem"), *publish],
            # Closes a pending approval on rejection or timeout, publishes the outcome.
            Placeholder.NOTIFY_FUNCTION_ARN: [table("UpdateItem"), *publish],
            # One transaction (champion, history, approval, watermark) and the package's approval.
            Placeholder.PROMOTE_CHAMPION_FUNCTION_ARN: [
                table("GetItem", "PutItem", "UpdateItem"),
                # Only to Approved, and it runs only after an ML lead's SendTaskSuccess: the
                # state machine invokes it after RequestApproval, and nothing else may invoke it.
                iam.PolicyStatement(
                    actions=["sagemaker:UpdateModelPackage"],
                    resources=[f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:model-package/{group}/*"],
                    conditions={"StringEquals": {"sagemaker:ModelApprovalStatus": "Approved"}},
                ),
            ],
        }
        for placeholder, statements in grants.items():
            for statement in statements:
                functions[placeholder].allow(statement)
        # Suppressions for the prefix- and version-scoped ARNs, next to the grants they justify.
        acknowledge(
            functions[Placeholder.COMPARE_WITH_CHAMPION_FUNCTION_ARN].role,
            "AwsSolutions-IAM5",
            "Each run writes its evaluation.json under models/<run>/, so the read is scoped to the models/ prefix.",
            findings=[objects_under(data.bucket, prefixes.models_prefix)],
        )
        for prefix in error_prefixes:
            acknowledge(
                functions[Placeholder.CHECK_FOR_NEW_DATA_FUNCTION_ARN].role,
                "AwsSolutions-IAM5",
                "Firehose names each error object by its error type, arrival time and a UUID, so the read is "
                "scoped to the error prefix.",
                findings=[objects_under(data.bucket, prefix)],
            )
        acknowledge(
            functions[Placeholder.PROMOTE_CHAMPION_FUNCTION_ARN].role,
            "AwsSolutions-IAM5",
            "Package versions are numbered by the registry; the ARN is scoped to this "
            "pipeline's group and the condition allows only the Approved status.",
            findings=[stack_arn("sagemaker", f"model-package/{group}/*")],
        )


def _construct_id(spec: TaskSpec) -> str:
    return "".join(part.title() for part in spec.module.split("_")) + "Function"
