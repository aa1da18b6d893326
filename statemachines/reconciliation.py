"""Reconciling a SageMaker `.sync` job state with a job of the same name that already exists."""

from __future__ import annotations

from stepfunctions.steps import Choice, ChoiceRule, Wait
from stepfunctions.steps.states import State

from statemachines.sdk_extensions import TrimmedTask
from statemachines.states import catch_all, sagemaker_sdk_task

POLL_SECONDS = 60


class ReconciledJob:
    """A `.sync` job state plus the states that reconcile it with a job that already exists.

    Any error of the job state (a retry whose create met the name already taken, a timeout, the job
    failing) leads to a Describe of the job by its name: Completed continues as if the job state had
    succeeded, InProgress waits and looks again, anything else fails with the original error.
    `kind` is SageMaker's word for the job (`Training`, `Processing`); the Describe writes
    `result_selector` to `result_path` as the job state does, so later states read one shape.
    """

    def __init__(
        self,
        job: TrimmedTask,
        kind: str,
        name_expression: str,
        result_selector: dict[str, str],
        result_path: str,
        failure: State,
    ) -> None:
        self.entry = job
        self._job = job
        field = f"{kind}JobName.$"
        self._describe = sagemaker_sdk_task(
            f"Find{kind}Job",
            f"describe{kind}Job",
            parameters={field: name_expression},
            result_selector=result_selector,
            result_path=result_path,
            comment=f"Reconciles with a {kind.lower()} job of this run that already exists, instead of "
            "starting a second one.",
        )
        # The job state's own error stays in $.error; a failed lookup adds nothing to it.
        self._describe.add_catch(catch_all(failure, result_path="$.lookup_error"))
        self._wait = Wait(
            f"WaitFor{kind}Job", comment=f"The {kind.lower()} job is still running.", seconds=POLL_SECONDS
        )
        self._status = Choice(f"{kind}JobStatus?", comment=f"Is the existing {kind.lower()} job done?")
        self._status_path = f"{result_path}.status"
        self._waiting_rule = (
            ChoiceRule.Or(
                [
                    ChoiceRule.StringEquals(self._status_path, "InProgress"),
                    ChoiceRule.StringEquals(self._status_path, "Stopping"),
                ]
            ),
            self._wait,
        )
        self._status.default_choice(failure)
        self._wait.next(self._describe)
        self._describe.next(self._status)
        job.add_catch(catch_all(self._describe))

    def exit_to(self, state: State) -> None:
        """Where the run goes once the job is done, whichever way it was found done."""
        self._job.next(state)
        self._status.add_choice(ChoiceRule.StringEquals(self._status_path, "Completed"), state)
        self._status.add_choice(*self._waiting_rule)
