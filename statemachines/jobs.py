"""The cycle's managed jobs: PrepareData (Glue), TrainCandidate and EvaluateCandidate (SageMaker).

Each job state runs its job to the end (`.sync`); the SageMaker ones come with the states that
reconcile a retry with the job already started (`statemachines/reconciliation.py`).
"""

from __future__ import annotations

from typing import Any

from stepfunctions.steps.states import State

from statemachines.placeholders import Placeholder
from statemachines.policies import GLUE_TRANSIENT, Timeouts, transient_retry
from statemachines.reconciliation import ReconciledJob
from statemachines.sdk_extensions import TrimmedTask
from statemachines.states import catch_all, execution_tags, sagemaker_task

EVALUATION_CODE_DIR = "/opt/ml/processing/input/code"
EVALUATION_MODEL_DIR = "/opt/ml/processing/input/model"
EVALUATION_TEST_DIR = "/opt/ml/processing/input/test"
EVALUATION_TRAIN_DIR = "/opt/ml/processing/input/train"
EVALUATION_OUTPUT_DIR = "/opt/ml/processing/output/evaluation"

# Job names come from the execution name (ValidateInput derives the prefixes) plus the attempt of the
# run that starts the job (its redrive count, recorded before the job state: `ReconciledJob`). A retry
# of a `.sync` job state, or a redrive that resumes at it, reuses the same name, so SageMaker refuses
# the second create instead of training twice and the Catch reconciles with the job that exists. Only
# when that job ended unfinished does a redriven run record its new attempt and train once more.
TRAINING_JOB_PREFIX = "$.run.names.training_job_prefix"
PROCESSING_JOB_PREFIX = "$.run.names.processing_job_prefix"
TRAINING_JOB_NAME = ReconciledJob.name(TRAINING_JOB_PREFIX, "Training")
PROCESSING_JOB_NAME = ReconciledJob.name(PROCESSING_JOB_PREFIX, "Processing")


def prepare_data(failure: State) -> TrimmedTask:
    prepare = TrimmedTask(
        "PrepareData",
        comment="Glue (Spark) job: schema check, cleaning, features, time-based split, Parquet out.",
        resource="arn:aws:states:::glue:startJobRun.sync",
        parameters={
            "JobName": Placeholder.GLUE_JOB_NAME.token,
            "Arguments": {
                "--run_name.$": "$.run.names.base",
                "--landing_uri.$": "$.run.data.landing_uri",
                "--output_uri.$": "$.run.data.processed_uri",
                "--window_end.$": "$.data.window_end",
                "--training_window_days.$": "States.Format('{}', $.run.data.training_window_days)",
                "--input_format.$": "$.run.data.input_format",
                "--dataset.$": "$.run.dataset_json",
                # The run's count of records the delivery stream refused, for quality.json.
                "--delivery_errors.$": "States.JsonToString($.data.delivery_errors)",
            },
        },
        result_selector={"job_run_id.$": "$.Id", "state.$": "$.JobRunState"},
        result_path="$.prepared",
        timeout_seconds=Timeouts.GLUE_JOB,
        retry=transient_retry(GLUE_TRANSIENT),
    )
    prepare.add_catch(catch_all(failure))
    return prepare


def train_candidate(failure: State) -> ReconciledJob:
    train = sagemaker_task(
        "TrainCandidate",
        "createTrainingJob.sync",
        parameters={
            "TrainingJobName.$": TRAINING_JOB_NAME,
            "RoleArn.$": "$.run.training.role_arn",
            "AlgorithmSpecification": {
                "TrainingImage.$": "$.run.training.image_uri",
                "TrainingInputMode": "File",
                "MetricDefinitions": [
                    {"Name": "validation:roc_auc", "Regex": "validation:roc_auc=([0-9.]+);"},
                    {"Name": "validation:average_precision", "Regex": "validation:average_precision=([0-9.]+);"},
                ],
            },
            "HyperParameters.$": "$.run.training.hyperparameters",
            "InputDataConfig": [
                _parquet_channel("train", "States.Format('{}train/', $.run.data.processed_uri)"),
                _parquet_channel("validation", "States.Format('{}validation/', $.run.data.processed_uri)"),
            ],
            "OutputDataConfig": {"S3OutputPath.$": "$.run.training.output_uri"},
            "ResourceConfig": {
                "InstanceType.$": "$.run.training.instance_type",
                "InstanceCount.$": "$.run.training.instance_count",
                "VolumeSizeInGB.$": "$.run.training.volume_size_gb",
            },
            "StoppingCondition": {"MaxRuntimeInSeconds.$": "$.run.training.max_runtime_seconds"},
            "Tags": execution_tags(),
        },
        result_selector={
            "job_name.$": "$.TrainingJobName",
            "status.$": "$.TrainingJobStatus",
            "model_data_url.$": "$.ModelArtifacts.S3ModelArtifacts",
        },
        result_path="$.training",
        comment="SageMaker training job (scikit-learn script mode) on the prepared train and validation splits.",
        timeout_seconds=Timeouts.SAGEMAKER_JOB,
    )
    return ReconciledJob(
        job=train,
        kind="Training",
        name_prefix=TRAINING_JOB_PREFIX,
        result_selector={
            "job_name.$": "$.TrainingJobName",
            "status.$": "$.TrainingJobStatus",
            # Where SageMaker puts the model, known before the job ends.
            "model_data_url.$": "States.Format('{}/{}/output/model.tar.gz', "
            "$.OutputDataConfig.S3OutputPath, $.TrainingJobName)",
        },
        result_path="$.training",
        failure=failure,
    )


def evaluate_candidate(failure: State) -> ReconciledJob:
    # The code archive keeps the name it has in S3 (a CDK asset is named by its hash).
    entrypoint = (
        f'cd {EVALUATION_CODE_DIR} && for archive in *.gz; do tar -xzf "$archive"; done '
        '&& exec python3 evaluate.py "$@"'
    )
    evaluate = sagemaker_task(
        "EvaluateCandidate",
        "createProcessingJob.sync",
        parameters={
            "ProcessingJobName.$": PROCESSING_JOB_NAME,
            "RoleArn.$": "$.run.training.role_arn",
            "AppSpecification": {
                "ImageUri.$": "$.run.training.image_uri",
                "ContainerEntrypoint": ["/bin/sh", "-c", entrypoint, "evaluate"],
                "ContainerArguments.$": (
                    f"States.Array('--model-dir', '{EVALUATION_MODEL_DIR}', "
                    f"'--test-dir', '{EVALUATION_TEST_DIR}', '--train-dir', '{EVALUATION_TRAIN_DIR}', "
                    f"'--output-dir', '{EVALUATION_OUTPUT_DIR}', "
                    "'--champion-model-uri', $.data.champion_model_uri)"
                ),
            },
            "ProcessingInputs": [
                _processing_input("code", "$.run.training.code_uri", EVALUATION_CODE_DIR),
                _processing_input("model", "$.training.model_data_url", EVALUATION_MODEL_DIR),
                _processing_input("test", "States.Format('{}test/', $.run.data.processed_uri)", EVALUATION_TEST_DIR),
                # The candidate's data-quality baseline is computed over its training data.
                _processing_input("train", "States.Format('{}train/', $.run.data.processed_uri)", EVALUATION_TRAIN_DIR),
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "evaluation",
                        "S3Output": {
                            "S3Uri.$": "$.run.evaluation.output_uri",
                            "LocalPath": EVALUATION_OUTPUT_DIR,
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType.$": "$.run.evaluation.instance_type",
                    "InstanceCount": 1,
                    "VolumeSizeInGB": 10,
                }
            },
            "StoppingCondition": {"MaxRuntimeInSeconds.$": "$.run.evaluation.max_runtime_seconds"},
            "Environment": {"PYTHONUNBUFFERED": "1"},
            "Tags": execution_tags(),
        },
        result_selector=_evaluation_selector(),
        result_path="$.evaluation",
        comment="SageMaker processing job: candidate and champion scored on the same test split; "
        "writes evaluation.json and a report with plots.",
        timeout_seconds=Timeouts.SAGEMAKER_JOB,
    )
    return ReconciledJob(
        job=evaluate,
        kind="Processing",
        name_prefix=PROCESSING_JOB_PREFIX,
        result_selector=_evaluation_selector(),
        result_path="$.evaluation",
        failure=failure,
    )


def _parquet_channel(name: str, uri_expression: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "ContentType": "application/x-parquet",
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri.$": uri_expression,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
    }


def _processing_input(name: str, uri_expression: str, local_path: str) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri.$": uri_expression,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


def _evaluation_selector() -> dict[str, str]:
    return {
        "job_name.$": "$.ProcessingJobName",
        "status.$": "$.ProcessingJobStatus",
        "evaluation_uri.$": "States.Format('{}/evaluation.json', $.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri)",
        "statistics_uri.$": (
            "States.Format('{}/baseline/statistics.json', $.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri)"
        ),
        "constraints_uri.$": (
            "States.Format('{}/baseline/constraints.json', $.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri)"
        ),
    }
