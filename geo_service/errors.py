"""Domain exceptions and their single mapping to HTTP status codes and OGC exception JSON."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error a client can cause or should be told about."""

    status = 500
    code = "ServerError"
    headers: dict[str, str] = {}

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


class TileNotFound(ServiceError):
    """A tile outside the tile matrix set or outside the layer's zoom levels."""

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


class Unauthorized(ServiceError):
    status = 401
    code = "Unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="quartierskarte"'}


class Forbidden(ServiceError):
    status = 403
    code = "Forbidden"


class PreconditionFailed(ServiceError):
    status = 412
    code = "PreconditionFailed"


class UnsupportedMediaType(ServiceError):
    status = 415
    code = "UnsupportedMediaType"


class RateLimited(ServiceError):
    status = 429
    code = "TooManyRequests"

    def __init__(self, detail: str, retry_after: int):
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


class Overloaded(ServiceError):
    """The service protects itself for a while (all export slots busy, the reports breaker
    open): the client should retry after ``retry_after`` seconds."""

    status = 503
    code = "ServiceUnavailable"

    def __init__(self, detail: str, retry_after: int):
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}
