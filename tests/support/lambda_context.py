"""A stand-in for the `LambdaContext` Lambda hands a handler (what Powertools reads of it)."""

from __future__ import annotations

from dataclasses import dataclass

REGION = "eu-west-1"
ACCOUNT = "123456789012"


@dataclass
class FakeLambdaContext:
    function_name: str = "retrain-task"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:retrain-task"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
