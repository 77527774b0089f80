"""The CloudMC error envelope and the sandbox's error codes.

Every failure is answered as ``{"errors": [{"code", "message", "context"}]}``.
Only **2012** (stop requested on an instance that is not running) is an
official CloudMC code; every other code below is a sandbox code in the 9000
range so nobody mistakes it for a vendor one:

=====  ======================================================================
code   meaning
=====  ======================================================================
2012   stop: instance not in Running/Stopping (context id/currentState/expectedStates/type)
9400   bad request: query parameter value (paging, dates, filters)
9401   missing or unknown ``MC-Api-Key`` (HTTP 401)
9403   not allowed: org outside the caller's subtree, role lacks the right (HTTP 403)
9404   unknown path, id, connection, environment or entity type (HTTP 404)
9405   verb not allowed on a known path (HTTP 405)
9410   request body is not valid JSON / not a JSON object
9411   required field missing (context ``missing``)
9412   field value invalid or refers to an unknown id (context ``field``)
9413   duplicate name / entryPoint / userName / email
9414   unknown or unsupported ``?operation=``
9415   quota ceiling exceeded (context metric, ceiling, requestedTotal)
9416   precondition failed (e.g. delete an org that has sub-orgs)
9417   the connection's plugin does not support this (metrics; context ``flag``, e.g. supportsMetric)
9418   date span over the endpoint's limit (context ``maxDays``; see ``windows``)
9421   start: wrong state            9422   reboot: wrong state
9423   delete: wrong state           9424   purge: wrong state
9425   recover: wrong state          9426   changeComputeOffering: wrong state
9427   resetPassword / update: wrong state
9431   volume delete: attached or os volume
9432   volume attach: already attached / instance state
9433   volume detach: not attached / os volume
9434   volume create: target instance state
9435   createSnapshotFromVolume: volume not Ready
9440   task failed (inside a FAILED task's ``result``)
9500   unexpected server error
95xx   injected status fault (9000 + HTTP status), e.g. 9503, 9429
=====  ======================================================================
"""

STOP_WRONG_STATE = 2012
BAD_PARAMETER = 9400
UNAUTHENTICATED = 9401
FORBIDDEN = 9403
NOT_FOUND = 9404
METHOD_NOT_ALLOWED = 9405
MALFORMED_BODY = 9410
MISSING_FIELD = 9411
INVALID_FIELD = 9412
DUPLICATE = 9413
UNKNOWN_OPERATION = 9414
QUOTA_EXCEEDED = 9415
PRECONDITION_FAILED = 9416
UNSUPPORTED = 9417
SPAN_TOO_LONG = 9418
WRONG_STATE = {
    "stop": STOP_WRONG_STATE,
    "start": 9421,
    "reboot": 9422,
    "delete": 9423,
    "purge": 9424,
    "recover": 9425,
    "changeComputeOffering": 9426,
    "resetPassword": 9427,
    "update": 9427,
    "createSnapshotFromVolume": 9435,
}
VOLUME_DELETE = 9431
VOLUME_ATTACH = 9432
VOLUME_DETACH = 9433
VOLUME_CREATE = 9434
TASK_FAILED = 9440
INTERNAL = 9500


class ApiError(Exception):
    """An error answered with the CloudMC envelope and an HTTP status."""

    def __init__(self, status, code, message, context=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.context = context or {}
        self.headers = headers or {}

    def envelope(self):
        """The JSON body: ``{"errors": [{code, message, context}]}``."""
        return envelope(self.code, self.message, self.context)


def envelope(code, message, context=None):
    """Build an error envelope dict."""
    return {"errors": [{"code": code, "message": message, "context": context or {}}]}


def bad_request(message, code=BAD_PARAMETER, **context):
    """A 400 ApiError."""
    return ApiError(400, code, message, context)


def not_found(message, **context):
    """A 404 ApiError."""
    return ApiError(404, NOT_FOUND, message, context)


def forbidden(message, **context):
    """A 403 ApiError."""
    return ApiError(403, FORBIDDEN, message, context)


def wrong_state(operation, entity_type, entity_id, current, expected):
    """The 400 "wrong state" error, shaped like the vendor's 2012 example."""
    code = WRONG_STATE.get(operation, 9427)
    verb = {"stop": "stop", "delete": "destroy"}.get(operation, operation)
    message = (f"Cannot {verb} an instance that isn't in the running state" if operation == "stop"
               else f"Cannot {verb} {entity_type} {entity_id} in state {current}")
    context = {"id": entity_id, "currentState": current, "expectedStates": list(expected),
               "type": entity_type}
    return ApiError(400, code, message, context)
