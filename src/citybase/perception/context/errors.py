"""The NGSI-LD store's refusals, each with its ProblemDetails type (ETSI GS CIM 009, 5.5.2)."""

from __future__ import annotations

from citybase.core.errors import CitybaseError


class BadRequestData(CitybaseError):
    status_code = 400
    code = "BadRequestData"


class InvalidRequest(CitybaseError):
    status_code = 400
    code = "InvalidRequest"


class ResourceNotFound(CitybaseError):
    status_code = 404
    code = "ResourceNotFound"


class AlreadyExists(CitybaseError):
    status_code = 409
    code = "AlreadyExists"


class NoMultiTenantSupport(CitybaseError):
    status_code = 501
    code = "NoMultiTenantSupport"
