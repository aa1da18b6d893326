"""The errors the local SageMaker answers with, named and shaped as SageMaker's own."""

from __future__ import annotations


class SageMakerError(Exception):
    """An API error: `code` is the `__type` a client sees, `status` the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    @classmethod
    def validation(cls, message: str) -> SageMakerError:
        return cls("ValidationException", message)

    @classmethod
    def not_found(cls, message: str) -> SageMakerError:
        return cls("ResourceNotFound", message)

    @classmethod
    def in_use(cls, message: str) -> SageMakerError:
        return cls("ResourceInUse", message)
