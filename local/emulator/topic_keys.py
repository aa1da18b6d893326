"""SNS: a role session's Publish to a KMS-encrypted topic needs the topic's key, as on AWS.

A topic whose `KmsMasterKeyId` is set is encrypted at rest: SNS encrypts each message with a data key of the
topic's KMS key, on the publisher's behalf, so "the publisher must have the `kms:GenerateDataKey` and
`kms:Decrypt` permissions for the AWS KMS key" (Amazon SNS developer guide, "Key management", "Allow a user
to send messages to a topic with SSE"). Without them Publish fails with SNS's `KMSAccessDeniedException`
(botocore's sns model: code `KMSAccessDenied`, HTTP 400, "The ciphertext references a key that doesn't exist
or that you don't have access to."; the developer guide's "AWS KMS errors"), its message KMS's refusal as
SNS passes it on: "User: <session> is not authorized to perform: kms:GenerateDataKey on resource: <key ARN>
because no identity-based policy allows the kms:GenerateDataKey action (Service: AWSKMS; Status Code: 400;
Error Code: AccessDeniedException; Request ID: <id>; Proxy: null)".

`EncryptedTopics` checks a Publish or PublishBatch of a role session (a function's, a Glue job's, an assumed
role's: the requests the emulator authorizes, `local.emulator.lambda_roles`) after SNS authorized
`sns:Publish`: the topic's key (a key ID, key ARN, alias name or alias ARN) is resolved in the local KMS and
both actions are evaluated on its ARN, the role's identity policies combined with the key policy as KMS
combines them (the key policy must allow, directly or by delegating to the account's IAM, the CDK default;
an explicit Deny in either refuses). The encryption context SNS uses, `aws:sns:topicArn`, and
`kms:ViaService` are in the request context for conditions. A key the local KMS does not hold is SNS's
`KMSNotFoundException`, a disabled key its `KMSDisabledException` (the same model and guide). The account's
own keys (the root) and SNS's service deliveries are not checked. Pinned in
`tests/contract/emulator/test_topic_keys.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from local.emulator.seam import (
    emulator_app,
    iam_evaluator,
    replace,
    request_access_key,
    request_scope,
    require,
    service,
)

# SNS encrypts with a data key it generates, and decrypts it to reuse it (the developer guide's two actions).
KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
_PUBLISHING = ("Publish", "PublishBatch")


def _first(params: dict[str, Any], name: str) -> str:
    value = params.get(name, "")
    return str(value[0] if isinstance(value, list) and value else value or "")


def kms_message(message: str, error_code: str) -> str:
    """KMS's refusal as SNS passes it on, with the AWS SDK's suffix naming KMS's own error."""
    return (
        f"{message} (Service: AWSKMS; Status Code: 400; Error Code: {error_code}; Request ID: {uuid.uuid4()}; "
        "Proxy: null)"
    )


def key_denial(principal_arn: str, action: str, key_arn: str, identity: Any, combined: Any) -> str:
    """KMS's message for a refused key action: which policy refused, as KMS says it."""
    if combined.decision == "Deny":
        where = "a resource-based" if combined.resource_policy_arn else "an identity-based"
        reason = f"with an explicit deny in {where} policy"
    elif identity.decision == "Allow":
        reason = f"because no resource-based policy allows the {action} action"
    else:
        reason = f"because no identity-based policy allows the {action} action"
    return f"User: {principal_arn} is not authorized to perform: {action} on resource: {key_arn} {reason}"


class EncryptedTopics:
    """A role session's Publish to an encrypted topic needs kms:GenerateDataKey and kms:Decrypt (module doc)."""

    def install(self) -> None:
        sns = service("sns")
        self._topics = require(sns, "_topics")
        self._error = require(sns, "_error")
        kms = service("kms")
        self._resolve_key = require(kms, "_resolve_key")
        self._key_policy = require(kms, "key_policy_for_arn")
        evaluator = iam_evaluator()
        for name in ("resolve_principal", "EvalContext", "evaluate", "combine_resource_policy", "AuthError"):
            require(evaluator, name)
        replace(sns, "handle_request", self._checked, "sns-topic-keys")

    def _checked(self, original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def handle(method: str, path: str, headers: dict[str, str], body: bytes, params: dict[str, Any]) -> Any:
            fields = dict(params)
            if method == "POST" and body:
                fields.update(parse_qs(body.decode("utf-8", errors="replace")))
            if _first(fields, "Action") in _PUBLISHING:
                refusal = self.refusal(headers, params, _first(fields, "TopicArn") or _first(fields, "TargetArn"))
                if refusal is not None:
                    return refusal
            return await original(method, path, headers, body, params)

        return handle

    def refusal(self, headers: dict[str, str], params: dict[str, Any], topic_arn: str) -> Any:
        """SNS's error response when the caller (a role session) may not use the topic's key; None otherwise."""
        if not topic_arn or not bool(require(emulator_app(), "AUTH")):
            return None
        topic = self._topics.get(topic_arn)
        key_id = str(((topic or {}).get("attributes") or {}).get("KmsMasterKeyId") or "")
        if not key_id:
            return None
        region, account = request_scope()
        evaluator = iam_evaluator()
        principal = evaluator.resolve_principal(request_access_key(headers, params), account)
        if isinstance(principal, evaluator.AuthError) or principal.policies is None:
            return None  # an unknown key is refused by the request path; the account's keys are the root
        key = self._resolve_key(key_id)
        if key is None:
            message = kms_message(f"Invalid keyId {key_id}", "NotFoundException")
            return self._error("KMSNotFound", message, 400)
        key_arn = str(key["Arn"])
        if key.get("KeyState") == "Disabled":
            return self._error("KMSDisabled", kms_message(f"{key_arn} is disabled.", "DisabledException"), 400)
        found = self._key_policy(key_arn)
        for action in KEY_ACTIONS:
            context = evaluator.EvalContext(
                principal_arn=principal.arn,
                principal_type=principal.type,
                principal_account=principal.account,
                action=action,
                resource_arn=key_arn,
                region=region,
                secure_transport=True,
                service_context={
                    "kms:encryptioncontext:aws:sns:topicarn": topic_arn,
                    "kms:viaservice": f"sns.{region}.amazonaws.com",
                    "kms:calleraccount": principal.account,
                },
                principal_keys=principal.keys,
            )
            identity = evaluator.evaluate(context, principal.policies, *principal.limits)
            combined = identity
            if found is not None:
                combined = evaluator.combine_resource_policy(
                    identity, context, *found, required=True, limits=principal.limits
                )
            if combined.decision != "Allow":
                message = key_denial(principal.arn, action, key_arn, identity, combined)
                return self._error("KMSAccessDenied", kms_message(message, "AccessDeniedException"), 400)
        return None
