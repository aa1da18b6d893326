"""A Step Functions execution ARN, and the console page people open to follow the execution."""

from __future__ import annotations

from dataclasses import dataclass

from retrain.errors import InvalidTaskInput

# Console host per partition; the commercial partition's host carries the region.
_CONSOLE_HOSTS = {
    "aws": "{region}.console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}


@dataclass(frozen=True)
class ExecutionArn:
    arn: str
    partition: str
    region: str
    account: str
    state_machine: str
    execution_name: str

    @classmethod
    def parse(cls, arn: str) -> ExecutionArn:
        # arn:<partition>:states:<region>:<account>:execution:<state machine>:<execution name>
        parts = arn.split(":")
        if len(parts) < 8 or parts[0] != "arn" or parts[2] != "states" or parts[5] != "execution":
            raise InvalidTaskInput(
                f"expected a Step Functions execution ARN "
                f"(arn:aws:states:<region>:<account>:execution:<machine>:<name>), got {arn!r:.120}"
            )
        return cls(arn, parts[1], parts[3], parts[4], parts[6], ":".join(parts[7:]))

    @property
    def console_url(self) -> str:
        host = _CONSOLE_HOSTS.get(self.partition, _CONSOLE_HOSTS["aws"]).format(region=self.region)
        return f"https://{host}/states/home?region={self.region}#/v2/executions/details/{self.arn}"
