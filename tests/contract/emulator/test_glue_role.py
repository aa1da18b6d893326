"""The Glue job role: Glue reads the job's script and a Spark job's S3 data as the job's `Role`.

Sources: Glue developer guide, "Setting up IAM permissions for AWS Glue" (the job's role needs
s3:GetObject on the script and the job's inputs, s3:ListBucket to list them, s3:PutObject on its
outputs); Glue assumes the role in the session `GlueJobRunnerSession` and runs the script with it, so the
script's own calls are the role's; a Data Catalog action is authorized on the catalog, the database and the
table ("Specifying AWS Glue resource ARNs"); S3's access denied message
names the session, the action and the resource ("User: arn:aws:sts::<account>:assumed-role/<role>/
GlueJobRunnerSession is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::<b>/<k>"
because no identity-based policy allows the s3:GetObject action").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local.clients import LocalClients
from tests.support.emulator import finished_job_run, stage_spark_job
from tests.support.iam import RoleFactory, denial

pytestmark = pytest.mark.local

JOB_FILES = Path(__file__).parent / "glue_job"


@pytest.fixture
def glue_role(roles: RoleFactory) -> Callable[..., str]:
    """A role Glue may assume, with one inline policy of `statements`; returns its ARN."""
    return functools.partial(roles.create, "glue.amazonaws.com")


def denied(role_arn: str, action: str, resource: str) -> str:
    return re.escape(denial(role_arn, "GlueJobRunnerSession", action, resource, quoted=True))


def reads(bucket: str, prefix: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/{prefix}*"}


def shell_job(aws_clients: LocalClients, name: str, role_arn: str) -> str:
    s3, glue = aws_clients.client("s3"), aws_clients.client("glue")
    s3.create_bucket(Bucket=name)
    s3.upload_file(str(JOB_FILES / "shell_job.py"), name, "code/shell_job.py")
    glue.create_job(
        Name=name,
        Role=role_arn,
        Command={"Name": "pythonshell", "ScriptLocation": f"s3://{name}/code/shell_job.py"},
        DefaultArguments={"--bucket": name},
    )
    return str(glue.start_job_run(JobName=name)["JobRunId"])


def test_a_job_whose_role_may_read_its_script_runs(
    aws_clients: LocalClients, unique_name: str, glue_role: Callable[..., str]
) -> None:
    # The script writes argv.json with boto3, as the role.
    writes = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{unique_name}/argv.json"}
    role = glue_role(reads(unique_name, "code/"), writes)
    run_id = shell_job(aws_clients, unique_name, role)

    run = finished_job_run(aws_clients.client("glue"), unique_name, run_id)

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")


def test_a_scripts_own_call_the_role_does_not_allow_fails_the_job(
    aws_clients: LocalClients, unique_name: str, glue_role: Callable[..., str]
) -> None:
    role = glue_role(reads(unique_name, "code/"))  # no s3:PutObject of argv.json
    run_id = shell_job(aws_clients, unique_name, role)

    run = finished_job_run(aws_clients.client("glue"), unique_name, run_id)

    assert run["JobRunState"] == "FAILED"
    resource = f"arn:aws:s3:::{unique_name}/argv.json"
    assert re.search(denied(role, "s3:PutObject", resource), run["ErrorMessage"]), run["ErrorMessage"]


@pytest.mark.parametrize("on_the_table", [True, False], ids=["table-allowed", "table-refused"])
def test_a_jobs_catalog_call_is_authorized_on_the_catalog_the_database_and_the_table(
    aws_clients: LocalClients, unique_name: str, glue_role: Callable[..., str], on_the_table: bool
) -> None:
    s3, glue = aws_clients.client("s3"), aws_clients.client("glue")
    database = unique_name.replace("-", "_")
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(DatabaseName=database, TableInput={"Name": "processed"})
    s3.create_bucket(Bucket=unique_name)
    s3.upload_file(str(JOB_FILES / "catalog_job.py"), unique_name, "code/catalog_job.py")
    scope = "arn:aws:glue:us-east-1:000000000000"
    table = f"{scope}:table/{database}/processed"
    resources = [f"{scope}:catalog", f"{scope}:database/{database}", *([table] if on_the_table else [])]
    role = glue_role(reads(unique_name, "code/"), {"Effect": "Allow", "Action": "glue:GetTable", "Resource": resources})
    glue.create_job(
        Name=unique_name,
        Role=role,
        Command={"Name": "pythonshell", "ScriptLocation": f"s3://{unique_name}/code/catalog_job.py"},
        DefaultArguments={"--database": database, "--table": "processed"},
    )

    run = finished_job_run(glue, unique_name, glue.start_job_run(JobName=unique_name)["JobRunId"])

    if on_the_table:
        assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    else:
        assert run["JobRunState"] == "FAILED"
        expected = re.escape(denial(role, "GlueJobRunnerSession", "glue:GetTable", table))
        assert re.search(expected, run["ErrorMessage"]), run["ErrorMessage"]


def test_a_job_whose_role_cannot_read_its_script_fails_naming_role_action_and_resource(
    aws_clients: LocalClients, unique_name: str, glue_role: Callable[..., str]
) -> None:
    role = glue_role(reads(unique_name, "data/"))
    run_id = shell_job(aws_clients, unique_name, role)

    run = finished_job_run(aws_clients.client("glue"), unique_name, run_id)

    assert run["JobRunState"] == "FAILED"
    resource = f"arn:aws:s3:::{unique_name}/code/shell_job.py"
    assert re.fullmatch(
        re.escape(f"Unable to download object s3://{unique_name}/code/shell_job.py (AccessDenied: ")
        + denied(role, "s3:GetObject", resource)
        + r"\)",
        run["ErrorMessage"],
    ), run["ErrorMessage"]


@pytest.mark.spark
def test_a_spark_job_whose_role_cannot_list_its_input_fails(
    aws_clients: LocalClients, unique_name: str, glue_role: Callable[..., str]
) -> None:
    s3, glue = aws_clients.client("s3"), aws_clients.client("glue")
    stage_spark_job(s3, unique_name, JOB_FILES / "spark_job.py", JOB_FILES / "contract_schema.py", b"id,k\n1,a\n")
    role = glue_role(reads(unique_name, ""))
    glue.create_job(
        Name=unique_name,
        Role=role,
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{unique_name}/code/spark_job.py"},
        GlueVersion="5.0",
        DefaultArguments={
            "--extra-py-files": f"s3://{unique_name}/code/lib.zip",
            "--input": f"s3://{unique_name}/landing/",
        },
    )
    run_id = glue.start_job_run(
        JobName=unique_name, Arguments={"--output": f"s3://{unique_name}/processed/", "--required": "id"}
    )["JobRunId"]

    run = finished_job_run(glue, unique_name, run_id)

    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"].startswith(f"ListObjectsV2 failed for s3://{unique_name}/landing/ (AccessDenied: ")
    assert re.search(denied(role, "s3:ListBucket", f"arn:aws:s3:::{unique_name}"), run["ErrorMessage"])


# Glue developer guide, "Logging for AWS Glue jobs" (a job's stdout and stderr go to /aws-glue/jobs/output) and
# "Step 2: Create an IAM role for AWS Glue" (the AWSGlueServiceRole managed policy grants logs:CreateLogGroup,
# logs:CreateLogStream and logs:PutLogEvents on arn:aws:logs:*:*:*:/aws-glue/*): Glue writes the logs as the job's
# role. AWS documents no failure for a role that may not: the run's outcome stays, its logs are missing.
PRINTS = 'print("the job ran")\n'


@pytest.mark.parametrize("may_write_logs", [True, False], ids=["logs-allowed", "logs-refused"])
def test_a_runs_log_is_in_cloudwatch_only_when_its_role_may_write_it(
    aws_clients: LocalClients, unique_name: str, glue_role: Callable[..., str], may_write_logs: bool
) -> None:
    s3, glue, logs = aws_clients.client("s3"), aws_clients.client("glue"), aws_clients.client("logs")
    s3.create_bucket(Bucket=unique_name)
    s3.put_object(Bucket=unique_name, Key="code/prints.py", Body=PRINTS.encode())
    writes = {
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": "arn:aws:logs:us-east-1:000000000000:log-group:/aws-glue/*",
    }
    role = glue_role(reads(unique_name, "code/"), *([writes] if may_write_logs else []))
    glue.create_job(
        Name=unique_name,
        Role=role,
        Command={"Name": "pythonshell", "ScriptLocation": f"s3://{unique_name}/code/prints.py"},
    )
    run_id = glue.start_job_run(JobName=unique_name)["JobRunId"]

    run = finished_job_run(glue, unique_name, run_id)

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    try:
        streams = logs.describe_log_streams(logGroupName="/aws-glue/jobs/output", logStreamNamePrefix=run_id)
    except logs.exceptions.ResourceNotFoundException:
        streams = {"logStreams": []}
    assert bool(streams["logStreams"]) is may_write_logs
    if may_write_logs:
        events = logs.get_log_events(logGroupName="/aws-glue/jobs/output", logStreamName=run_id)["events"]
        assert any("the job ran" in event["message"] for event in events)


def test_a_role_given_by_name_is_the_accounts_role_of_that_name(
    aws_clients: LocalClients, unique_name: str, glue_role: Callable[..., str]
) -> None:
    # botocore glue, CreateJobRequest.Role: "The name or Amazon Resource Name (ARN) of the IAM role".
    role = glue_role(reads(unique_name, "data/"))  # not the script's code/
    s3, glue = aws_clients.client("s3"), aws_clients.client("glue")
    s3.create_bucket(Bucket=unique_name)
    s3.put_object(Bucket=unique_name, Key="code/prints.py", Body=PRINTS.encode())
    glue.create_job(
        Name=unique_name,
        Role=role.rsplit("/", 1)[-1],
        Command={"Name": "pythonshell", "ScriptLocation": f"s3://{unique_name}/code/prints.py"},
    )

    run = finished_job_run(glue, unique_name, glue.start_job_run(JobName=unique_name)["JobRunId"])

    assert run["JobRunState"] == "FAILED"
    resource = f"arn:aws:s3:::{unique_name}/code/prints.py"
    assert re.search(denied(role, "s3:GetObject", resource), run["ErrorMessage"]), run["ErrorMessage"]


def test_a_job_encrypting_its_logs_needs_its_role_to_associate_the_key_or_its_run_fails(
    aws_clients: LocalClients, unique_name: str, glue_role: Callable[..., str]
) -> None:
    """A security configuration with SSE-KMS CloudWatch encryption: Glue associates the key with the job's log
    group as the job's role when the run starts (Glue developer guide, "Encrypting data written by AWS Glue": the
    key grants the job roles kms:Encrypt* and the others "to encrypt CloudWatch Logs"); a role without
    logs:AssociateKmsKey or kms:Encrypt fails the run before its script runs ("Failed to AssociateKmsKey for
    logGroup ..."), one with both runs. See `GlueJobs.log_encryption_refusal`."""
    s3, glue, kms = aws_clients.client("s3"), aws_clients.client("glue"), aws_clients.client("kms")
    s3.create_bucket(Bucket=unique_name)
    s3.upload_file(str(JOB_FILES / "shell_job.py"), unique_name, "code/shell_job.py")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    configuration = f"{unique_name}-security"
    glue.create_security_configuration(
        Name=configuration,
        EncryptionConfiguration={"CloudWatchEncryption": {"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": key}},
    )
    writes = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{unique_name}/argv.json"}
    associate = {
        "Effect": "Allow",
        "Action": "logs:AssociateKmsKey",
        "Resource": "arn:aws:logs:*:*:log-group:/aws-glue/*",
    }
    encrypt = {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": key}
    runs = {}
    try:
        for case, grants in {"none": [], "logs only": [associate], "both": [associate, encrypt]}.items():
            role = glue_role(reads(unique_name, "code/"), writes, *grants)
            name = f"{unique_name}-{len(runs)}"
            glue.create_job(
                Name=name,
                Role=role,
                Command={"Name": "pythonshell", "ScriptLocation": f"s3://{unique_name}/code/shell_job.py"},
                DefaultArguments={"--bucket": unique_name},
                SecurityConfiguration=configuration,
            )
            runs[case] = (role, finished_job_run(glue, name, glue.start_job_run(JobName=name)["JobRunId"]))
    finally:
        glue.delete_security_configuration(Name=configuration)

    role, run = runs["none"]
    group = f"/aws-glue/jobs-{role.rsplit('/', 1)[-1]}-{configuration}"
    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"].startswith(f"Failed to AssociateKmsKey for logGroup: {group} using KmsKeyId: {key}: ")
    assert (
        denial(
            role,
            "GlueJobRunnerSession",
            "logs:AssociateKmsKey",
            f"arn:aws:logs:us-east-1:000000000000:log-group:{group}",
        )
        in (run["ErrorMessage"])
    )
    role, run = runs["logs only"]
    assert run["JobRunState"] == "FAILED"
    assert denial(role, "GlueJobRunnerSession", "kms:Encrypt", key) in run["ErrorMessage"]
    assert runs["both"][1]["JobRunState"] == "SUCCEEDED", runs["both"][1].get("ErrorMessage")
