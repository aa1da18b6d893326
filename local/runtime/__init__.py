"""One local runtime for managed scripts, shared by the local Glue and the local SageMaker.

- `process`: a script as a process of its own group, its output tailed to a log, waited on with a
  deadline and a stop request, stopped the one way (SIGTERM, a bounded wait, SIGKILL).
- `staging`: S3 staging, inputs into the script's work directory before it runs and outputs back after.
- `standby`: a script run's start-up (Python, the JVM, a SparkSession) paid ahead in a standby
  process that then runs exactly one script (`standby_driver.py`, run as a file).
- `failures`: what a failed script's output says went wrong, by the failure-line protocol
  (`retrain.failure_line`).
"""
