"""The AWS emulator (ministack, pinned) and this project's fixes to it, one module per service.

`seam` is the only module that touches the emulator's internals: the version pin, the patch helpers,
the extension points add-on services register through, and `install(home)`, which applies every fix
and registers the add-ons (the local SageMaker). Each service's fixes live in a module of their own,
patch only through the seam, and are pinned by contract tests under `tests/contract/emulator/`:
`awslambda`, `stepfunctions`, `glue`, `athena`, `s3`, `cloudwatch`, `cloudformation`, `scheduler`, `firehose`;
`durability` saves every service's state as it changes, so a killed local AWS loses nothing it acknowledged;
`history_files` keeps a closed execution's history in a file, not in memory.
"""
