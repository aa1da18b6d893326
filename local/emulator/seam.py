"""The one place that touches the AWS emulator's (ministack's) internals.

Everything else in `local/` reaches the emulator through this module: the per-service fix modules
of `local.emulator` through its patch helpers (`require`, `replace`, `wrap_resource_handler`,
`service` and the few accessors below), the add-on services (the local SageMaker) through
`ExtensionPoints`. So an emulator upgrade that renames something fails here, loudly, naming the fix
to revisit, and the contract tests in `tests/contract/emulator/` say which behaviour moved.

The emulator reads its configuration from the environment when it is first imported, so nothing here
imports it at module import time; `install(home)` runs once in the emulator process, after the
environment is set and before it serves.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from types import ModuleType
from typing import Any

from local.home import StateDirectory

logger = logging.getLogger("retrain.local")

EMULATOR_DISTRIBUTION = "ministack"
TESTED_EMULATOR_VERSION = "1.5.33"

# A task integration gets the Task's resource ARN and its resolved Parameters and returns the result.
TaskIntegration = Callable[[str, Any], Any]


class ExtensionError(RuntimeError):
    """The emulator no longer has something a fix relies on (an upgrade changed it)."""


def check_version() -> str:
    """The installed emulator's version; a warning when it is not the one the fixes were tested with."""
    found = version(EMULATOR_DISTRIBUTION)
    if found != TESTED_EMULATOR_VERSION:
        logger.warning(
            "%s %s is installed; local/emulator was written against %s (run the contract tests)",
            EMULATOR_DISTRIBUTION,
            found,
            TESTED_EMULATOR_VERSION,
        )
    return found


# --- patch helpers ---------------------------------------------------------------------------


def require(module: Any, name: str) -> Any:
    """`module.name`, or an `ExtensionError` saying that the emulator changed under a fix."""
    if not hasattr(module, name):
        raise ExtensionError(
            f"{getattr(module, '__name__', module)}.{name} is gone: {EMULATOR_DISTRIBUTION} changed; the fix in "
            f"local/emulator that patches it must be revisited (tested with {TESTED_EMULATOR_VERSION})"
        )
    return getattr(module, name)


def _patched(original: Any, wrapper_factory: Callable[[Any], Any], fix: str) -> Any | None:
    """`wrapper_factory(original)` marked with the fixes it carries; None when `fix` is applied already."""
    applied: frozenset[str] = getattr(original, "__retrain_fixes__", frozenset())
    if fix in applied:
        return None
    patched = wrapper_factory(original)
    patched.__retrain_fixes__ = applied | {fix}
    patched.__wrapped__ = original
    return patched


def replace(module: Any, name: str, wrapper_factory: Callable[[Any], Any], fix: str = "") -> None:
    """Replace `module.name` with `wrapper_factory(original)`; each `fix` applies once."""
    original = require(module, name)
    fix = fix or getattr(wrapper_factory, "__qualname__", repr(wrapper_factory))
    patched = _patched(original, wrapper_factory, fix)
    if patched is not None:
        setattr(module, name, patched)


def set_constant(module: Any, name: str, value: Any) -> None:
    """Set a module-level setting of the emulator that it has no configuration for."""
    require(module, name)
    setattr(module, name, value)


def service(name: str) -> Any:
    """A service module, loaded through the emulator's own registry so it is the instance it serves."""
    from ministack import app

    return app._get_module(name)


def lambda_runtime() -> ModuleType:
    """The emulator's Lambda worker runtime (the script its Python workers run)."""
    from ministack.core import lambda_runtime

    return lambda_runtime


def emulator_app() -> ModuleType:
    """The emulator's gateway module (its request path, its `AUTH` switch)."""
    from ministack import app

    return app


def iam_actions() -> ModuleType:
    """How the emulator names a request's IAM action and resource, and words its denials."""
    from ministack.core import iam_actions as actions

    return actions


def request_access_key(headers: dict[str, str], query_params: dict[str, Any] | None = None) -> str:
    """The access key a request is signed with, a presigned one's from `query_params` ('' when unsigned)."""
    from ministack.core.router import extract_access_key_id

    return str(extract_access_key_id(headers, query_params or {}) or "")


def iam_evaluator() -> ModuleType:
    """The emulator's IAM policy evaluator (what it runs under `AUTH=true`)."""
    from ministack.core import iam_evaluator as evaluator

    return evaluator


def cloudformation_provisioners() -> ModuleType:
    """The emulator's CloudFormation resource provisioners."""
    from ministack.services.cloudformation import provisioners

    return provisioners


def wrap_resource_handler(resource_type: str, action: str, wrapper_factory: Callable[[Any], Any], fix: str) -> None:
    """Wrap the emulator's CloudFormation `action` handler of a resource type (once per fix)."""
    handlers = require(cloudformation_provisioners(), "_RESOURCE_HANDLERS").get(resource_type)
    if not handlers or action not in handlers:
        raise ExtensionError(
            f"the emulator's CloudFormation has no {action} handler for {resource_type} any more: "
            f"{EMULATOR_DISTRIBUTION} changed; revisit local/emulator (tested with {TESTED_EMULATOR_VERSION})"
        )
    patched = _patched(handlers[action], wrapper_factory, fix)
    if patched is not None:
        handlers[action] = patched


def execution_error() -> Any:
    """The Step Functions engine's task error class: raising `cls(error, cause)` fails the state;
    a caught one has `.error` and `.cause`."""
    return require(service("stepfunctions"), "_ExecutionError")


def json_response(data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """A JSON-protocol service's 200 response, as the emulator's handlers build it."""
    from ministack.core.responses import json_response as respond

    return respond(data)


def error_response(code: str, message: str, status: int = 400) -> tuple[int, dict[str, str], bytes]:
    """A JSON-protocol service's error response, as the emulator's handlers build it."""
    from ministack.core.responses import error_response_json

    return error_response_json(code, message, status)


def get_region() -> str:
    """The region of the request being served (or of the execution, in an engine thread)."""
    from ministack.core.responses import get_region as region

    return region()


def get_account_id() -> str:
    """The account of the request being served (or of the execution, in an engine thread)."""
    from ministack.core.responses import get_account_id as account

    return account()


def request_scope() -> tuple[str, str]:
    """The region and account of the request being served."""
    return get_region(), get_account_id()


# Called with each HTTP request's ASGI scope before the emulator serves it (in the request's own task).
_request_hooks: list[Callable[[dict[str, Any]], None]] = []


def add_request_hook(hook: Callable[[dict[str, Any]], None]) -> None:
    """Run `hook(scope)` before the emulator serves each HTTP request (it may set context variables)."""
    if hook not in _request_hooks:
        _request_hooks.append(hook)


def asgi_app() -> object:
    """The emulator's ASGI application, behind the request hooks (importing it reads the environment: set
    that first)."""
    from ministack import app

    served = app.app

    async def gateway(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            for hook in _request_hooks:
                hook(scope)
        await served(scope, receive, send)

    return gateway


# --- persistence -----------------------------------------------------------------------------


def wrap_service_handlers(wrapper_factory: Callable[[str, Any], Any], fix: str) -> None:
    """Wrap every service's request handler (what the gateway and the engine's SDK integrations call):
    `wrapper_factory(service_name, original)`, once per fix."""
    from ministack import app

    handlers = require(app, "SERVICE_HANDLERS")
    for name, handler in list(handlers.items()):
        patched = _patched(handler, functools.partial(wrapper_factory, name), fix)
        if patched is not None:
            handlers[name] = patched


def service_state_keys(service_name: str) -> tuple[str, ...]:
    """The persistence keys (`<key>.json` in the state directory) of a service's modules."""
    from ministack import app

    config = require(app, "SERVICE_REGISTRY").get(service_name) or {}
    if not config:
        return ()
    return (config.get("state_key", config["module"]), *config.get("sub_modules", ()))


def state_getters() -> dict[str, Callable[[], Any]]:
    """`{persistence key: get_state}` of every loaded service, as the emulator saves them at shutdown."""
    from ministack import app

    getters: dict[str, Callable[[], Any]] = require(app, "_build_persistence_save_dict")()
    return getters


def encode_state(state_key: str, state: Any) -> bytes:
    """A service's state as the emulator's persistence writes and reads it (its format version wrapper)."""
    from ministack.core import persistence

    wrapped = {"__ministack_format__": require(persistence, "_state_format_version")(state_key), "payload": state}
    return json.dumps(wrapped, default=require(persistence, "_json_default")).encode()


def persistence_codec() -> ModuleType:
    """How the emulator's persistence encodes and decodes a service's state (`_json_default`, `_json_object_hook`)."""
    from ministack.core import persistence

    return persistence


def cloudformation_stacks() -> ModuleType:
    """The emulator's CloudFormation stack operations (its stack events)."""
    from ministack.services.cloudformation import stacks

    return stacks


# Told when a fix changes a service's state outside a request (a Glue run's thread ending the run).
_state_listeners: list[Callable[[str], None]] = []


def on_state_changed(listener: Callable[[str], None]) -> None:
    if listener not in _state_listeners:
        _state_listeners.append(listener)


def state_changed(state_key: str) -> None:
    """A fix changed `state_key`'s state outside a request: the durability writer saves it."""
    for listener in _state_listeners:
        listener(state_key)


# Run when the local AWS stops, after its state is saved: what a fix started (a Glue job's process, a
# SageMaker job or model server) ends with it. The server exits with os._exit, so atexit never runs.
_stop_hooks: list[Callable[[], None]] = []
STOP_HOOKS_SECONDS = 12.0  # within `local.aws`'s 30-s wait for a clean stop


def on_stop(hook: Callable[[], None]) -> None:
    if hook not in _stop_hooks:
        _stop_hooks.append(hook)


def stopping(bound: float = STOP_HOOKS_SECONDS) -> None:
    """The local AWS stops: every stop hook at once, each on its own, waited for up to `bound` seconds.

    The server no longer answers by now, so what a hook still sends it (a job's last log lines, metrics)
    fails after its retries: the bound keeps that from holding the stop; the processes end first."""
    log = logging.getLogger("retrain.local")

    def run(hook: Callable[[], None]) -> None:
        started = time.monotonic()
        try:
            hook()
        except Exception:  # a broken hook must not keep the rest from ending their processes
            log.exception("a stop hook of the local AWS failed")
        log.info("stop hook %s: %.1f s", getattr(hook, "__qualname__", hook), time.monotonic() - started)

    threads = [threading.Thread(target=run, args=(hook,), daemon=True) for hook in _stop_hooks]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + bound
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


# Run once every service's persisted state is loaded, at each start of a local AWS (persistence is always on
# locally, `local.home`; on a new home there is nothing to load, and the hooks still run). The emulator loads
# its services one by one (ministack `app._load_persisted_state`): what one service's load hook reads from
# another (a Glue job's role in IAM, its session in STS) may not be there yet; here it is.
_loaded_hooks: list[Callable[[], None]] = []


def _after_state_loaded(original: Callable[[], None]) -> Callable[[], None]:
    def load_every_service() -> None:
        original()
        for hook in list(_loaded_hooks):
            try:
                hook()
            except Exception:  # a broken hook must not keep the local AWS from starting
                logging.getLogger("retrain.local").exception("a state-loaded hook of the local AWS failed")

    return load_every_service


def on_state_loaded(hook: Callable[[], None]) -> None:
    from ministack import app

    replace(app, "_load_persisted_state", _after_state_loaded)
    if hook not in _loaded_hooks:
        _loaded_hooks.append(hook)


# --- extension points for add-on services ----------------------------------------------------


@dataclass(frozen=True)
class ServiceRouting:
    """How the gateway recognizes requests for an added service that a SigV4 scope does not name:
    `X-Amz-Target` prefixes, host name patterns (regular expressions) and the credential scope."""

    target_prefixes: Sequence[str] = ()
    host_patterns: Sequence[str] = ()
    credential_scope: str | None = None


@dataclass
class ExtensionPoints:
    """What an add-on service may register into the emulator.

    A service module is an object with the emulator's service contract:
    `async handle_request(method, path, headers, body, query_params) -> (status, headers, body)`,
    `get_state() -> dict | None`, `load_persisted_state(data)` and `reset()`. Requests signed for
    the service's SigV4 name (e.g. `sagemaker`, which `sagemaker-runtime` also signs with) reach it.
    """

    home: StateDirectory
    endpoint_url: str

    def add_service(
        self, name: str, module: Any, state_key: str | None = None, routing: ServiceRouting | None = None
    ) -> None:
        from ministack import app
        from ministack.core import router

        if routing is not None:
            pattern: dict[str, Any] = {
                "target_prefixes": list(routing.target_prefixes),
                "host_patterns": list(routing.host_patterns),
            }
            if routing.credential_scope:
                pattern["credential_scope"] = routing.credential_scope
            require(router, "SERVICE_PATTERNS")[name] = pattern
        module_name = f"retrain_{name.replace('-', '_')}"
        app._loaded_modules[module_name] = module
        app.SERVICE_REGISTRY[name] = {"module": module_name, "state_key": state_key or module_name}
        app._state_map[state_key or module_name] = module_name
        app.SERVICE_HANDLERS[name] = app._lazy_handler(module_name)

    def on_stop(self, hook: Callable[[], None]) -> None:
        """`hook()` when the local AWS stops, after its state is saved: end the processes the service started."""
        on_stop(hook)

    def on_state_loaded(self, hook: Callable[[], None]) -> None:
        """`hook()` at each start, once every service's persisted state is loaded (none on a new home)."""
        on_state_loaded(hook)

    def add_task_integration(self, resource_prefix: str, handler: TaskIntegration) -> None:
        """`handler(resource, parameters)` for Task states whose Resource starts with the prefix
        (`.sync` and `.waitForTaskToken` suffixes included: the handler sees the full resource)."""
        require(service("stepfunctions"), "_SERVICE_DISPATCH")[resource_prefix] = handler

    def add_sdk_integration(
        self, name: str, target_prefix: str, error_prefix: str, protocol: str = "json", error_codes: Sequence[str] = ()
    ) -> None:
        """`arn:aws:states:::aws-sdk:<name>:<action>` Task states: the engine's SDK dispatcher calls the
        added service `name` with `X-Amz-Target: <target_prefix>.<Action>`; its errors become
        `<error_prefix>.<code>` in the state's error, with the `Exception` suffix Step Functions adds to
        each of `error_codes` that lacks it (developer guide, "AWS SDK service integrations": SageMaker's
        `ResourceNotFound` is caught as `SageMaker.ResourceNotFoundException`)."""
        sfn = service("stepfunctions")
        require(sfn, "_AWS_SDK_SERVICE_MAP")[name] = {"target_prefix": target_prefix, "protocol": protocol}
        require(sfn, "_AWS_SDK_ERROR_PREFIX")[name] = error_prefix
        suffixed = {code: f"{code}Exception" for code in error_codes if not code.endswith("Exception")}
        require(sfn, "_AWS_SDK_ERROR_CODE_OVERRIDES")[name] = suffixed

    def put_service_event(self, source: str, detail_type: str, detail: dict[str, Any], resources: list[str]) -> None:
        """Send an event to the default bus as an AWS service does (`aws.*` sources, which PutEvents
        refuses to callers): the emulator's own emitters publish the same way."""
        entry = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail), "Resources": resources}
        require(service("eventbridge"), "_put_events")({"Entries": [entry]}, allow_aws_source=True)

    def task_failure(self, error: str, cause: str) -> Exception:
        """The exception a task integration raises to fail its state with `error` and `cause`."""
        failure: Exception = execution_error()(error, cause)
        return failure

    def request_scope(self) -> tuple[str, str]:
        """The region and account of the request (or execution) being served."""
        return request_scope()

    def add_cloudformation_resource(
        self,
        resource_type: str,
        create: Callable[[str, dict[str, Any], str], tuple[str, dict[str, Any]]],
        update: Callable[..., tuple[str, dict[str, Any]]] | None = None,
        delete: Callable[[str, dict[str, Any]], None] | None = None,
        *,
        create_only_properties: tuple[str, ...] = (),
        name_property: str | None = None,
    ) -> None:
        """`create(logical_id, props, stack_name) -> (physical_id, attributes)`,
        `update(physical_id, old_props, new_props, stack_name)`, `delete(physical_id, props)`.

        `create_only_properties` ("Update requires: Replacement" in the resource's reference): a
        change creates a new resource and deletes the old one, as CloudFormation does.
        `name_property`: the property that names the resource; a replacement that keeps an
        explicit name fails the update as on AWS ("custom-named resource requires replacing").
        """
        provisioners = cloudformation_provisioners()
        handlers: dict[str, Any] = {"create": create}
        if update is not None:
            handlers["update"] = update
        if delete is not None:
            handlers["delete"] = delete
        require(provisioners, "_RESOURCE_HANDLERS")[resource_type] = handlers
        if create_only_properties:
            require(provisioners, "_REPLACING_PROPERTIES")[resource_type] = tuple(create_only_properties)
        if name_property:
            require(provisioners, "_CUSTOM_NAME_REPLACEMENT")[resource_type] = {"name": name_property}


# --- installation ----------------------------------------------------------------------------


def install(home: StateDirectory) -> list[str]:
    """Apply every service's fixes and register every add-on; returns the add-ons installed."""
    # Imported here, not at the top: the service modules and the add-ons import this module.
    from local import sagemaker
    from local.emulator import (
        alarm_evaluation,
        alarm_resources,
        athena,
        awslambda,
        cloudformation,
        cloudwatch,
        durability,
        faults,
        firehose,
        glue,
        glue_sessions,
        history_files,
        iam,
        lambda_logs,
        lambda_roles,
        managed_rules,
        redrive,
        role_sessions,
        s3,
        scheduler,
        service_roles,
        stepfunctions,
        target_roles,
        task_tokens,
        topic_keys,
    )
    from local.runtime.standby import configured_standbys

    check_version()
    endpoint_url = f"http://127.0.0.1:{os.environ['GATEWAY_PORT']}"
    points = ExtensionPoints(home, endpoint_url)
    # Lambda workers and Glue drivers run on their runtime's isolated environment (local/emulator/profiles/).
    runtimes = home.tmp / "runtimes"
    awslambda.LambdaErrorTypes().install()
    awslambda.FunctionEnvironments.from_profiles().install()
    # AWS's shape of throttle retries (doubling, capped, bounded by the event's age) on a laptop's clock.
    awslambda.AsyncInvocationQueue(first_delay=0.25, max_delay=5.0).install()
    stepfunctions.StepFunctionsFixes().install()
    stepfunctions.DataLimits().install()
    redrive.Redrive().install()
    # A closed execution's history in a file of its own (kept as AWS keeps it), not in memory.
    history_files.ClosedHistories(home.service_state).install()
    # A Task's service call fails as `faults.json` in the state directory says (tests, or by hand).
    faults.FaultInjection(home).install()
    glue_role_sessions: glue_sessions.GlueRoleSessions | None = None
    if iam.enforced():
        # The state machine role, evaluated for each Task's service integration (RETRAIN_LOCAL_IAM=off: not).
        iam.StateMachineRoles().install()
        # A state machine whose `.sync` SageMaker jobs need managed rules its role may not create: refused when
        # created or updated (by the API or a template), as AWS refuses it.
        managed_rules.ManagedRulePermissions().install()
        # Each function's SDK calls, as its role's session.
        sessions = lambda_roles.LambdaRoleSessions()
        sessions.install()
        # Each invocation's logs, written to CloudWatch Logs only as the function's role allows.
        lambda_logs.FunctionLogs(service_roles.ServiceRoles()).install()
        # A role a person assumes (the MLLeads role): its trust policy, then its session's calls, the same way.
        role_sessions.AssumedRoleSessions(sessions).install()
        # A Glue job's own calls, as its role's session.
        glue_role_sessions = glue_sessions.GlueRoleSessions(sessions)
        glue_role_sessions.install()
        # A session's Publish to a KMS-encrypted topic, on the topic's key (kms:GenerateDataKey, kms:Decrypt).
        topic_keys.EncryptedTopics().install()
        # An answer to a callback task, on the waiting execution's state machine.
        task_tokens.TaskTokenResources().install()
        # A CloudWatch call naming alarms, on each alarm (after the sessions: it wraps their denial wording).
        alarm_resources.AlarmResources().install()
        # Scheduler's and EventBridge's deliveries, as the target's role (or a function's resource policy).
        target_roles.DeliveryPermissions().install()
    # Glue reads the script and moves a Spark job's data as the job's role, and runs the script with the role's
    # session, its Data Catalog calls authorized on catalog, database and table (RETRAIN_LOCAL_IAM=off: not).
    roles = service_roles.ServiceRoles().authorizer if iam.enforced() else None
    runner = glue.LocalGlueJobRunner(
        endpoint_url,
        home.glue_scratch,
        home.glue_logs,
        standbys=configured_standbys(),
        imports=glue.GlueImports(runtimes),
        roles=roles,
        credentials=glue_role_sessions.credentials if glue_role_sessions is not None else None,
    )
    glue.GlueJobs(runner).install(points)
    glue.GlueCatalog(runner).install()
    athena.RegisteredPartitions().install()
    # A versioned bucket's version bodies live in their files on disk, not also in memory.
    s3.VersionBodiesOnDisk().install()
    scheduler.Schedules().install()
    firehose.BufferedDelivery().install()
    cloudwatch.MetricMathAlarmTemplates().install()
    cloudwatch.MetricMathAlarms().install()
    cloudformation.TemplateProperties().install()
    cloudformation.GlueSecurityConfigurations().install(points)
    cloudwatch.CompositeAlarmTemplates().install(points)
    cloudwatch.AlarmStateEvents().install()
    alarm_evaluation.ScopedAlarmEvaluation().install()
    cloudformation.register_model_package_groups(points)
    # The add-on services, each with `install(points)`.
    sagemaker.install(points)
    # Last: every service's handler (the add-ons' too) writes its state before it answers.
    if durability.enabled():
        durability.DurableState(home).install()
    return [sagemaker.__name__]
