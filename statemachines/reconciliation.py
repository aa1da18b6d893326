"""Reconciling a SageMaker `.sync` job state with a job of the same run that already exists."""

from __future__ import annotations

from stepfunctions.steps import Choice, ChoiceRule, Pass, Wait
from stepfunctions.steps.states import State

from statemachines.sdk_extensions import TrimmedTask
from statemachines.states import catch_all, sagemaker_sdk_task

POLL_SECONDS = 60
# How many times the run has been redriven: 0 on a first drive. AWS developer guide, "Context object"
# (`$$.Execution.RedriveCount`) and "Redriving executions in Step Functions": a redrive resumes at the
# state that failed or was running, with the input it had; the states before it are not run again.
REDRIVE_COUNT = "$$.Execution.RedriveCount"


def job_name(prefix_path: str, attempt_path: str) -> str:
    """A job's name: the run's prefix for the kind of job, then the attempt that started it."""
    return f"States.Format('{{}}-{{}}', {prefix_path}, {attempt_path})"


class ReconciledJob:
    """A `.sync` job state plus the states that reconcile it with a job of the run that already exists.

    `<Kind>Attempt` records which attempt of the run starts the job (the redrive count, read into the
    state by a Pass; no Choice reads `$$`) under `$.attempts.<kind>`, and the job is named by it. So a
    redrive that resumes at the job state or at the lookup after it (the run was stopped, timed out or
    the local AWS killed there) names the job the earlier attempt started: the create is refused for the
    name taken, or the lookup finds it, and a job that finished meanwhile is taken, not trained again.

    Any error of the job state (a retry whose create met the name already taken, a timeout, the job
    failing) leads to a Describe of the job by its name: Completed continues as if the job state had
    succeeded, InProgress or Stopping waits and looks again. Anything else (Failed, Stopped) fails with
    the original error, unless the run was redriven since the job started: then the new attempt is
    recorded and starts its own job.

    `kind` is SageMaker's word for the job (`Training`, `Processing`); the Describe writes
    `result_selector` to `result_path` as the job state does, so later states read one shape.
    """

    def __init__(
        self,
        job: TrimmedTask,
        kind: str,
        name_prefix: str,
        result_selector: dict[str, str],
        result_path: str,
        failure: State,
    ) -> None:
        self._job = job
        attempt_path = f"$.attempts.{kind.lower()}"
        self.entry = Pass(
            f"{kind}Attempt",
            comment=f"Which attempt of the run starts the {kind.lower()} job (the redrive count), for its name.",
            parameters={"redrive_count.$": REDRIVE_COUNT},
            result_path=attempt_path,
        )
        self.entry.next(job)
        self._describe = sagemaker_sdk_task(
            f"Find{kind}Job",
            f"describe{kind}Job",
            parameters={f"{kind}JobName.$": self.name(name_prefix, kind)},
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
        # A job that ended without finishing: a new attempt if the run was redriven since it started.
        recount = Pass(
            f"Recount{kind}Attempt",
            comment=f"The {kind.lower()} job did not finish: which attempt of the run this is now.",
            parameters={"redrive_count.$": f"{attempt_path}.redrive_count", "now.$": REDRIVE_COUNT},
            result_path=attempt_path,
        )
        redriven = Choice(
            f"{kind}RedrivenSinceJob?", comment=f"Was the run redriven since its {kind.lower()} job started?"
        )
        redriven.add_choice(
            ChoiceRule.NumericGreaterThanPath(f"{attempt_path}.now", f"{attempt_path}.redrive_count"), self.entry
        )
        redriven.default_choice(failure)
        recount.next(redriven)
        self._status.default_choice(recount)
        self._wait.next(self._describe)
        self._describe.next(self._status)
        job.add_catch(catch_all(self._describe))

    @staticmethod
    def name(name_prefix: str, kind: str) -> str:
        """The job's name: the run's prefix, then the attempt `<Kind>Attempt` recorded."""
        return job_name(name_prefix, f"$.attempts.{kind.lower()}.redrive_count")

    def exit_to(self, state: State) -> None:
        """Where the run goes once the job is done, whichever way it was found done."""
        self._job.next(state)
        self._status.add_choice(ChoiceRule.StringEquals(self._status_path, "Completed"), state)
        self._status.add_choice(
            ChoiceRule.Or(
                [
                    ChoiceRule.StringEquals(self._status_path, "InProgress"),
                    ChoiceRule.StringEquals(self._status_path, "Stopping"),
                ]
            ),
            self._wait,
        )
