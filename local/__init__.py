"""The embedded local AWS: the AWS emulator run in its own process on 127.0.0.1 with this project's
fixes (`local.emulator`, through one seam), its lifecycle (`local.aws.LocalAws`), its state directory
(`local.home.StateDirectory`), real Glue job runs (`local.glue_runner`), the runtime that the local
Glue and the local SageMaker run managed scripts with (`local.runtime`), CDK deployments into it
(`local.deploy`, whose `deploy_project_stack` deploys this project's stack), and the local SageMaker
(`local.sagemaker`)."""
