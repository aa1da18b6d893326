"""Lambda: a function's SDK calls are authorized as its execution role, as on AWS.

On AWS a function runs with its role's temporary credentials (`AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` of the session `assumed-role/<role>/<function>`), and
every call it makes is authorized against the role's policies. The emulator does exactly that under its
`AUTH=true` (`lambda_runtime.execution_credentials` registers the session; `iam_evaluator.enforce`
evaluates each request signed with it), but `AUTH` is one switch for every caller: on, it would also
verify every signature, refuse roles the IAM does not hold and enforce resource policies for the user's
own calls.

`LambdaRoleSessions` keeps the emulator's own machinery and narrows the switch to the functions'
sessions: `ministack.app.AUTH` becomes true only while a request signed with a function's session key
is served (the gateway's request hook, `seam.add_request_hook`), and a function whose role the local
IAM holds gets its role session's credentials. The user's calls, the local services' own calls and a
function whose role the local IAM does not hold (a contract test's placeholder) are served as before. A
refusal is the emulator's error, with IAM's message naming the resource as these services do ("User:
arn:aws:sts::<account>:assumed-role/<role>/<function> is not authorized to perform: <action> on resource:
<arn> because no identity-based policy allows the <action> action"; S3 quotes the ARN, "Troubleshoot
access denied (403 Forbidden) errors in Amazon S3"): the emulator leaves "on resource" out for all but
IoT. A function's calls are marked as made over TLS (`x-forwarded-proto: https`), as the AWS SDKs make
them: the loopback is plain HTTP, and a bucket policy that denies `aws:SecureTransport` false would
otherwise refuse them. Pinned in `tests/contract/emulator/test_lambda_roles.py`.

A request of such a session whose IAM action the emulator cannot name (its request path then only checks the
signature and serves it) is refused, not let through: AWS authorizes every request by its action, so a role
session's request is never served unauthorized (`_refusing_unnamed`). A service this project adds that
authorizes each of its requests itself (the local SageMaker, `authorizes_itself`) is left to do so. Pinned in
`tests/contract/emulator/test_unnamed_requests.py`.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

from local.emulator.iam import identity_denial
from local.emulator.seam import (
    add_request_hook,
    emulator_app,
    get_account_id,
    iam_actions,
    iam_evaluator,
    lambda_runtime,
    replace,
    request_access_key,
    require,
    service,
    set_constant,
)
from local.emulator.task_permissions import Requirement

# Services whose identity-based denials name the resource (S3 in quotes).
_NAMING_RESOURCE = frozenset({"s3", "dynamodb", "sns", "sagemaker", "states", "lambda", "glue", "events", "monitoring"})

# Services this project adds that authorize every request of a role session themselves (`authorizes_itself`).
_SELF_AUTHORIZED: set[str] = set()

# SigV4: `Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/...`; a presigned URL's X-Amz-Credential.
_CREDENTIAL = re.compile(rb"Credential=([A-Z0-9]+)/")
_QUERY_CREDENTIAL = re.compile(rb"(?:^|&)X-Amz-Credential=([A-Z0-9]+)(?:%2F|/)")


class RequestAuth:
    """The emulator's `AUTH` switch, true only while a request of a function's role session is served."""

    def __init__(self, flag: contextvars.ContextVar[bool]) -> None:
        self._flag = flag

    def __bool__(self) -> bool:
        return self._flag.get()

    def __repr__(self) -> str:
        return f"RequestAuth({self._flag.get()})"


class LambdaRoleSessions:
    def __init__(self) -> None:
        self._flag: contextvars.ContextVar[bool] = contextvars.ContextVar("retrain_lambda_session", default=False)
        self._keys: set[str] = set()
        self._lock = threading.Lock()

    def install(self) -> None:
        app = emulator_app()
        if bool(require(app, "AUTH")):
            return  # AUTH=true: the emulator enforces IAM for every caller already
        set_constant(app, "AUTH", RequestAuth(self._flag))
        replace(lambda_runtime(), "execution_credentials", self._credentials, "lambda-role-session")
        replace(service("lambda_svc"), "execution_credentials", self._credentials, "lambda-role-session")
        add_request_hook(self._on_request)
        replace(iam_actions(), "access_denied_response", _naming_the_resource, "denial-names-resource")
        replace(app, "_authenticate_only", _refusing_unnamed, "unnamed-action-refused")

    def add_session_key(self, access_key: str) -> None:
        """Authorize the requests signed with `access_key` (a role session's) as the emulator does under AUTH."""
        with self._lock:
            self._keys.add(access_key)

    @contextlib.contextmanager
    def authorizing(self) -> Iterator[None]:
        """The emulator's `AUTH` on while the block runs (in this request's context only)."""
        token = self._flag.set(True)
        try:
            yield
        finally:
            self._flag.reset(token)

    def _credentials(self, original: Callable[[dict[str, Any]], dict[str, str]]) -> Callable[..., dict[str, str]]:
        def credentials(config: dict[str, Any]) -> dict[str, str]:
            # The emulator's AUTH path gives a session of the function's role; the other, the account's keys
            # (set either way: an invocation a function's own request started runs in that request's context).
            session = self.role_exists(str(config.get("Role") or ""))
            token = self._flag.set(session)
            try:
                environment = original(config)
            finally:
                self._flag.reset(token)
            if session:
                with self._lock:
                    self._keys.add(environment["AWS_ACCESS_KEY_ID"])
            return environment

        return credentials

    @staticmethod
    def role_exists(role_arn: str) -> bool:
        parts = role_arn.split(":")
        if len(parts) < 6:
            return False
        roles = require(service("iam"), "_roles")
        return roles.get_scoped(parts[4], None, role_arn.rsplit("/", 1)[-1]) is not None

    def _on_request(self, scope: dict[str, Any]) -> None:
        key = self._access_key(scope)
        with self._lock:
            session = key is not None and key in self._keys
        self._flag.set(session)
        if session:
            headers = [(name, value) for name, value in scope.get("headers", []) if name != b"x-forwarded-proto"]
            scope["headers"] = [*headers, (b"x-forwarded-proto", b"https")]

    @staticmethod
    def _access_key(scope: dict[str, Any]) -> str | None:
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                found = _CREDENTIAL.search(value)
                return found.group(1).decode() if found else None
        found = _QUERY_CREDENTIAL.search(scope.get("query_string", b""))
        return found.group(1).decode() if found else None


def _naming_the_resource(original: Callable[..., Any]) -> Callable[..., Any]:
    def response(service: str, action: str, principal_arn: str, request_id: str, **options: Any) -> Any:
        resource = options.get("resource_arn", "*")
        if (
            not options.get("message")
            and not options.get("error_code")
            and not options.get("resource_policy_arn")
            and service in _NAMING_RESOURCE
            and resource != "*"
        ):
            explicit = bool(options.get("explicit_deny"))
            options["message"] = identity_denial(principal_arn, action, resource, explicit, quoted=service == "s3")
        return original(service, action, principal_arn, request_id, **options)

    return response


def authorizes_itself(service_name: str) -> None:
    """`service_name` (a service this project adds) authorizes each request of a role session itself."""
    _SELF_AUTHORIZED.add(service_name)


def session_principal(access_key: str, account: str) -> str | None:
    """The ARN of the role session signing with `access_key` while the emulator authorizes it (`AUTH` on for it);
    None for any other caller (the account's keys are the root, which no policy limits)."""
    if not bool(require(emulator_app(), "AUTH")):
        return None
    evaluator = iam_evaluator()
    principal = evaluator.resolve_principal(access_key, account)
    if isinstance(principal, evaluator.AuthError) or principal.policies is None:
        return None
    return str(principal.arn)


def unnamed_denial(principal_arn: str, service_name: str, request: str) -> str:
    """The refusal of a session's request whose IAM action cannot be named: IAM's form, the request for the action."""
    return (
        f"User: {principal_arn} is not authorized to perform: {service_name}:{request} because the local AWS cannot "
        "name this request's IAM action, and refuses a role session's request it cannot authorize"
    )


def _refusing_unnamed(original: Callable[..., Any]) -> Callable[..., Any]:
    """The gateway's check of a request no IAM action covers (it only verified the signature): a role session's
    request is refused with AccessDenied instead of being served."""

    def authenticate_only(
        service_name: str, headers: dict[str, str], query_params: dict[str, Any], request_id: str
    ) -> Any:
        failure = original(service_name, headers, query_params, request_id)
        if failure is not None or service_name in _SELF_AUTHORIZED:
            return failure
        principal = session_principal(request_access_key(headers, query_params), get_account_id())
        if principal is None:
            return None
        message = unnamed_denial(principal, service_name, "<unnamed request>")
        respond = require(iam_actions(), "access_denied_response")
        return respond(service_name, f"{service_name}:*", principal, request_id, headers=headers, message=message)

    return authenticate_only


def caller_refusal(headers: dict[str, str], needed: list[Requirement], region: str, account: str) -> str | None:
    """For a request a function's role session makes to a service this project adds (the local SageMaker, which
    the emulator's request path does not authorize), IAM's refusal of the first of `needed` the role's policies
    do not allow; None for any other caller or when all are allowed."""
    if not bool(require(emulator_app(), "AUTH")):
        return None
    evaluator = iam_evaluator()
    principal = evaluator.resolve_principal(request_access_key(headers), account)
    if isinstance(principal, evaluator.AuthError) or principal.policies is None:
        return None  # an unknown key is refused by the request path; the account's keys are the root
    for requirement in needed:
        context = evaluator.EvalContext(
            principal_arn=principal.arn,
            principal_type=principal.type,
            principal_account=principal.account,
            action=requirement.action,
            resource_arn=requirement.resource,
            region=region,
            service_context=dict(requirement.context),
            principal_keys=principal.keys,
        )
        result = evaluator.evaluate(context, principal.policies, *principal.limits)
        if result.decision != "Allow":
            return identity_denial(principal.arn, requirement.action, requirement.resource, result.decision == "Deny")
    return None
