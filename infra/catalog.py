"""The data lake's catalog: the Glue database the job registers each run's processed data in, and the Athena
workgroup `retrain query` runs in.

The table itself is not a stack resource: its schema is the job's output schema, which the job knows and
writes when it registers a run (`jobs/catalog.py`); a template's copy of it would drift from the data.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.storage import TEMP_PREFIX, DataBucket
from retrain.config import CatalogConfig

# Query results are transient: under the temporary prefix, whose objects expire after a week.
QUERY_RESULTS_PREFIX = TEMP_PREFIX + "athena/"

# The Glue Data Catalog calls `jobs/catalog.py` makes, and no other.
JOB_CATALOG_ACTIONS = (
    "glue:GetTable",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:BatchCreatePartition",
    "glue:GetPartition",
    "glue:BatchUpdatePartition",
)


class ProcessedDataCatalog(Construct):
    """The Glue database of `[catalog]`, and an Athena workgroup with encrypted results in the data bucket."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: CatalogConfig, workgroup: str, data: DataBucket
    ):
        super().__init__(scope, construct_id)
        self.settings = settings
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=settings.database,
                description="Processed data of the retrain pipeline's runs (registered by its Glue job)",
            ),
        )
        self.results_uri = data.bucket.s3_url_for_object(QUERY_RESULTS_PREFIX)
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=workgroup,
            description="Athena queries of the retrain pipeline's catalog (retrain query)",
            # A stack update or delete must not fail on the workgroup's query history.
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=self.results_uri,
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )

    def job_statement(self) -> iam.PolicyStatement:
        """What the job's registration needs: each Data Catalog action is authorized on the catalog, the
        database and the table (AWS Glue developer guide, "Specifying AWS Glue resource ARNs")."""
        scope = f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        database, table = self.settings.database, self.settings.table
        return iam.PolicyStatement(
            actions=list(JOB_CATALOG_ACTIONS),
            resources=[f"{scope}:catalog", f"{scope}:database/{database}", f"{scope}:table/{database}/{table}"],
        )

    def job_arguments(self) -> dict[str, str]:
        return {"--catalog_database": self.settings.database, "--catalog_table": self.settings.table}
