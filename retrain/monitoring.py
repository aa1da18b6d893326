"""The monitoring job's container as a monitoring schedule names it, the same on AWS and locally.

A `MonitoringJobDefinition` has no code input (API reference, `MonitoringInputs`: an endpoint or a batch
transform only), so the scikit-learn image cannot be handed `jobs/monitor.py` as a processing job is: its
entry point fetches the jobs' `sourcedir.tar.gz` (the one training and evaluation use) with the image's boto3
under the schedule's role, unpacks it and runs the script as `__main__`, which then reads Model Monitor's
container contract from its environment.
"""

from __future__ import annotations

MONITOR_SCRIPT = "monitor.py"
ENDPOINT_DATA = "/opt/ml/processing/endpointdata"
RESULT_DATA = "/opt/ml/processing/resultdata"

# `python3 -c BOOTSTRAP <sourcedir.tar.gz URI> <script>` (sys.argv is ['-c', uri, script]); compact because
# botocore limits each ContainerEntrypoint member to 256 characters.
BOOTSTRAP = (
    "import runpy,sys,tarfile,tempfile,boto3;_,u,s=sys.argv;b,k=u[5:].split('/',1);d=tempfile.mkdtemp()+'/';"
    "boto3.client('s3').download_file(b,k,d+'c');tarfile.open(d+'c').extractall(d);"
    "sys.path[:0]=[d];sys.argv=[s];runpy.run_path(d+s,run_name='__main__')"
)


def monitoring_app_specification(image_uri: str, sourcedir_uri: str, script: str = MONITOR_SCRIPT) -> dict[str, object]:
    """`MonitoringAppSpecification` of the project's monitoring job in the framework image `image_uri`."""
    if not sourcedir_uri.startswith("s3://") or "/" not in sourcedir_uri[len("s3://") :]:
        raise ValueError(f"{sourcedir_uri!r} is not an s3://bucket/key URI of the jobs' sourcedir.tar.gz")
    return {
        "ImageUri": image_uri,
        "ContainerEntrypoint": ["python3", "-c", BOOTSTRAP],
        "ContainerArguments": [sourcedir_uri, script],
    }
