"""`Notifier` on Amazon SNS: the topic the ML leads and on-call engineers subscribe to."""

from __future__ import annotations

from typing import Any

from retrain.errors import ConfigError


class SnsNotifier:
    def __init__(self, client: Any, topic_arn: str | None) -> None:
        self._sns = client
        self._topic_arn = topic_arn

    def publish(self, subject: str, body: str) -> str:
        if not self._topic_arn:
            raise ConfigError("TOPIC_ARN is not set: the stack sets it on every function that notifies")
        response = self._sns.publish(TopicArn=self._topic_arn, Subject=subject, Message=body)
        return str(response["MessageId"])
