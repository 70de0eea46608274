"""Domain exceptions and their single mapping to HTTP status codes and OGC exception JSON."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error a client can cause or should be told about."""

    status = 500
    code = "ServerError"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class InvalidParameter(ServiceError):
    status = 400
    code = "InvalidParameterValue"


class InvalidBBox(InvalidParameter):
    pass


class InvalidFilter(InvalidParameter):
    pass


class UnsupportedCRS(InvalidParameter):
    pass


class InvalidData(ServiceError):
    """A file or feature that cannot be stored as it is."""

    status = 400
    code = "InvalidData"


class LayerNotFound(ServiceError):
    status = 404
    code = "NotFound"


class FeatureNotFound(ServiceError):
    status = 404
    code = "NotFound"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "PayloadTooLarge"


class NotAcceptable(ServiceError):
    status = 406
    code = "NotAcceptable"


class DatabaseUnavailable(ServiceError):
    status = 503
    code = "ServiceUnavailable"
