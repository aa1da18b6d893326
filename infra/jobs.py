"""The code that runs inside managed services, and the roles it runs with.

- `TrainingCode`: `jobs/` as a deterministic `sourcedir.tar.gz` file asset, for the SageMaker
  scikit-learn container (training, evaluation, serving).
- `SageMakerRole`: what those jobs and the endpoint's model may touch.
- `PrepareDataJob`: the Glue (Spark) job that turns landing data into train/validation/test Parquet and
  registers it in the pipeline's Glue database (`infra/catalog.py`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from aws_cdk import Aws
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from infra.archives import ModulesZip, SourceDirArchive, build_directory
from infra.catalog import ProcessedDataCatalog
from infra.findings import acknowledge, objects_under, stack_arn
from infra.images import SklearnImage
from infra.monitoring import DATA_METRICS_NAMESPACE
from infra.storage import TEMP_PREFIX, DataBucket
from retrain.config import GlueConfig

GLUE_SCRIPT = "prepare_data.py"
# The script's flat imports and theirs, zipped for --extra-py-files.
GLUE_MODULES = (
    "catalog.py",
    "cleaning.py",
    "failure_line.py",
    "features.py",
    "hadoop_storage.py",
    "landing.py",
    "prepare_failures.py",
    "time_split.py",
)
GLUE_TEMP_PREFIX = TEMP_PREFIX + "glue/"


def _object_reader(asset: s3_assets.Asset) -> iam.PolicyStatement:
    """GetObject on exactly one asset object in the CDK staging bucket (not the whole bucket)."""
    return iam.PolicyStatement(actions=["s3:GetObject"], resources=[asset.bucket.arn_for_objects(asset.s3_object_key)])


class TrainingCode(Construct):
    """`jobs/` packed as `sourcedir.tar.gz`; `uri` is `TrainingCodeUri`, `version` is `CodeVersion`."""

    def __init__(self, scope: Construct, construct_id: str, jobs_dir: Path) -> None:
        super().__init__(scope, construct_id)
        archive = SourceDirArchive(jobs_dir).write(build_directory(self))
        # The version is the SHA-256 of the archive itself, byte-stable for unchanged jobs/: the
        # same code always gets the same version, any change a new one, and anyone can check which
        # code a model was trained with by hashing the object its package points to.
        self.version = hashlib.sha256(archive.read_bytes()).hexdigest()
        self.asset = s3_assets.Asset(self, "SourceDir", path=str(archive))
        self.uri = self.asset.s3_object_url

    def readers(self) -> list[iam.PolicyStatement]:
        """Read the archive; processing inputs of type S3Prefix also list the key as a prefix."""
        return [
            _object_reader(self.asset),
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.asset.bucket.bucket_arn],
                conditions={"StringEquals": {"s3:prefix": self.asset.s3_object_key}},
            ),
        ]


class SageMakerRole(Construct):
    """The execution role of training and processing jobs and of the endpoint's models."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data: DataBucket,
        code: TrainingCode,
        image: SklearnImage,
    ) -> None:
        super().__init__(scope, construct_id)
        prefixes = data.data
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker training, evaluation and serving of the retrain pipeline",
        )
        statements = [
            # Channels read the processed splits; evaluation also reads the champion's model; the monitoring
            # schedule's jobs read the captured traffic (Model Monitor lists and downloads it as this role)
            # and the landed labels of its predictions (live quality: jobs/landed_labels.py).
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[
                    data.objects(prefixes.processed_prefix),
                    data.objects(prefixes.models_prefix),
                    data.objects(prefixes.capture_prefix),
                    data.objects(prefixes.landing_prefix),
                ],
            ),
            # Models and reports; what the endpoint captures of its traffic, written with this role; and
            # the monitoring schedule's reports (its jobs run with this role, reading the jobs' sourcedir
            # and the champion's baseline under models/).
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[
                    data.objects(prefixes.models_prefix),
                    data.objects(prefixes.capture_prefix),
                    data.objects(prefixes.monitoring_prefix),
                ],
            ),
            data.list_statement(
                prefixes.processed_prefix, prefixes.models_prefix, prefixes.capture_prefix, prefixes.landing_prefix
            ),
            *code.readers(),
            iam.PolicyStatement(
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/*"],
            ),
            # PutMetricData has no resource type; the namespace condition keeps it to SageMaker's: its jobs' and
            # endpoints' (/aws/sagemaker/...) and the monitoring jobs' data-quality metrics, which the drift
            # alarms read (infra/monitoring.py).
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", DATA_METRICS_NAMESPACE]}},
            ),
            iam.PolicyStatement(
                actions=["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
                resources=[image.repository_arn],
            ),
            # GetAuthorizationToken has no resource type: AWS requires "*".
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
        ]
        for statement in statements:
            self.role.add_to_policy(statement)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "Jobs write and read per-run keys under the processed/ and models/ prefixes "
            "(names derive from the execution); SageMaker creates its own log groups under "
            "/aws/sagemaker/; PutMetricData (namespace-conditioned) and GetAuthorizationToken "
            "support no resource-level permissions.",
            findings=[
                objects_under(data.bucket, prefixes.processed_prefix),
                objects_under(data.bucket, prefixes.models_prefix),
                objects_under(data.bucket, prefixes.capture_prefix),
                objects_under(data.bucket, prefixes.monitoring_prefix),
                objects_under(data.bucket, prefixes.landing_prefix),
                stack_arn("logs", "log-group:/aws/sagemaker/*"),
                "Resource::*",
            ],
        )

    @property
    def arn(self) -> str:
        return self.role.role_arn


class PrepareDataJob(Construct):
    """The Glue Spark job `jobs/prepare_data.py`, its security configuration and its role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job_name: str,
        jobs_dir: Path,
        settings: GlueConfig,
        data: DataBucket,
        key: kms.IKey,
        catalog: ProcessedDataCatalog,
    ) -> None:
        super().__init__(scope, construct_id)
        self.job_name = job_name
        script = s3_assets.Asset(self, "Script", path=str(_job_file(jobs_dir, GLUE_SCRIPT)))
        modules = s3_assets.Asset(
            self, "Modules", path=str(ModulesZip(jobs_dir, GLUE_MODULES).write(build_directory(self)))
        )
        prefixes = data.data
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"Runs the {job_name} Glue job",
        )
        log_groups = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws-glue/*"
        statements = [
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[data.objects(prefixes.landing_prefix)]),
            iam.PolicyStatement(
                # Spark's committer writes, renames (copy + delete) and cleans up its own files.
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[data.objects(prefixes.processed_prefix), data.objects(GLUE_TEMP_PREFIX)],
            ),
            data.list_statement(prefixes.landing_prefix, prefixes.processed_prefix, GLUE_TEMP_PREFIX),
            _object_reader(script),
            _object_reader(modules),
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
                resources=[log_groups],
            ),
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "Glue"}},
            ),
            # The security configuration encrypts logs and bookmarks with the pipeline key.
            iam.PolicyStatement(actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn]),
            catalog.job_statement(),
        ]
        for statement in statements:
            self.role.add_to_policy(statement)

        security = glue.CfnSecurityConfiguration(
            self,
            "SecurityConfiguration",
            name=f"{job_name}-security",
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                s3_encryptions=[glue.CfnSecurityConfiguration.S3EncryptionProperty(s3_encryption_mode="SSE-S3")],
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=key.key_arn
                ),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=key.key_arn
                ),
            ),
        )
        self.job = glue.CfnJob(
            self,
            "Job",
            name=job_name,
            description="Schema check, cleaning, features and a time-based split of the landing data",
            role=self.role.role_arn,
            command=glue.CfnJob.JobCommandProperty(
                name="glueetl", python_version="3", script_location=script.s3_object_url
            ),
            glue_version=settings.glue_version,
            worker_type=settings.worker_type,
            number_of_workers=settings.number_of_workers,
            timeout=settings.timeout_minutes,
            # Step Functions owns retries (with backoff); a Glue-level retry would hide failures.
            max_retries=0,
            # One retrain at a time: a second concurrent run would be a bug, so let it fail loudly.
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=1),
            security_configuration=security.ref,
            default_arguments={
                "--job-language": "python",
                "--extra-py-files": modules.s3_object_url,
                "--enable-metrics": "true",
                "--enable-observability-metrics": "true",
                "--enable-continuous-cloudwatch-log": "true",
                "--enable-continuous-log-filter": "true",
                "--enable-job-insights": "true",
                # The run reads an explicit time window; bookmarks would silently skip data.
                "--job-bookmark-option": "job-bookmark-disable",
                "--TempDir": data.bucket.s3_url_for_object(GLUE_TEMP_PREFIX),
                **catalog.job_arguments(),
            },
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "The job reads every landing object of its window and writes per-run keys "
            "under processed/ and its temp prefix; Glue names its own log groups under "
            "/aws-glue/ (per security configuration and role); PutMetricData is limited to "
            "the Glue namespace and supports no resource-level permissions.",
            findings=[
                objects_under(data.bucket, prefixes.landing_prefix),
                objects_under(data.bucket, prefixes.processed_prefix),
                objects_under(data.bucket, GLUE_TEMP_PREFIX),
                stack_arn("logs", "log-group:/aws-glue/*"),
                "Resource::*",
            ],
        )

    @property
    def arn(self) -> str:
        stack_scope = f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        return f"{stack_scope}:job/{self.job_name}"


def _job_file(jobs_dir: Path, name: str) -> Path:
    path = jobs_dir / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the Glue job needs it; run from the project root")
    return path
