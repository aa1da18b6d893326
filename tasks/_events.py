"""Parse a Lambda event into its contract with Powertools' parser, failing with a named error."""

from __future__ import annotations

from typing import Any, TypeVar

from aws_lambda_powertools.utilities.parser import ValidationError, parse
from pydantic import BaseModel

from retrain.errors import InvalidExecutionInput, InvalidTaskInput
from retrain.field_errors import FIX_EXECUTION_INPUT, describe_invalid_document

Model = TypeVar("Model", bound=BaseModel)
MISMATCH = (
    "The state machine sent an event this function does not accept: deploy the definition and the "
    "functions from the same version."
)


def parse_event(event: Any, model: type[Model], *, user_fields: tuple[str, ...] = ()) -> Model:
    """`model` parsed from `event`; a problem in one of `user_fields` is the caller's input."""
    try:
        return parse(event=event, model=model)
    except ValidationError as error:
        message = describe_invalid_document(error, model, "event")
        field = str(error.errors()[0]["loc"][0]) if error.errors()[0]["loc"] else ""
        if field in user_fields:
            raise InvalidExecutionInput(f"{message.removeprefix('event.')}. {FIX_EXECUTION_INPUT}") from None
        raise InvalidTaskInput(f"{message}. {MISMATCH}") from None
