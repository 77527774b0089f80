"""The built-in audit rules (:data:`BUILTIN_RULES`) and the registry every audit starts from.

Each rule is a plain function of :class:`~cloudmc_frames.reports.registry.AuditData` whose
thresholds are keyword defaults; its docstring's first line is its description in reports.
Each declares the inputs it reads (``needs``), so the audit can say when a rule could not be
evaluated, or only partly. Rules about something missing skip organizations whose data could
not be read. Nothing is
registered by a decorator on import: :data:`RULES` is built with :data:`BUILTIN_RULES` passed in,
and :func:`rule` adds to it.

Example::

    >>> from functools import partial
    >>> cmf.reports.audit(client, rules=[partial(old_snapshots, days=30), "quota_exceeded"])  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd

from .commitments import TOLERANCE as COMMITMENT_TOLERANCE
from .registry import AuditData, AuditRule, Rule, RuleRegistry, finding
from .utilization import IDLE_PERCENT

STALE_LOGIN_DAYS = 90
FAILED_LOGINS = 5
LOCKOUT_FAILED_LOGINS = 10  # CloudMC locks an account after 10 consecutive failures
MAX_ADMINISTRATORS = 3
STOPPED_DAYS = 30
SNAPSHOT_DAYS = 90
LARGE_VOLUME_GIB = 100
SNAPSHOT_STAMP = re.compile(r"_(\d{14})$")  # CloudStack names end with the UTC creation stamp
STOP_TIME_COLUMNS = ("last_stop_timestamp", "stopped_at")
CREATED_COLUMNS = ("created", "creation_timestamp", "creation_date", "create_time")
IDLE_DAYS = 14  # days of hourly CPU the audit reads for idle_running_instances
IDLE_METRIC = "instance.cpu.utilization"
IDLE_MIN_HOURS = 72


# -- users --------------------------------------------------------------------------------------

def active_users(data: AuditData) -> pd.DataFrame:
    """Users that can log in (not DISABLED, not deleted)."""
    users = data.users
    disabled = users["status"].astype("string").str.upper().eq("DISABLED").fillna(False)
    return users[~(disabled | users["deleted"].fillna(False)).astype(bool)]


def is_admin(users: pd.DataFrame) -> pd.Series:
    """True for users whose primary role is an administrator role."""
    role = users["primary_role_binding_role_name"].astype("string")
    return role.str.contains("admin", case=False).fillna(False).astype(bool)


def _user(row, detail: str, action: str, severity: str | None = None) -> dict:
    return finding(row, "user", subject=row.user_name, detail=detail, action=action, severity=severity)


def users_never_logged_in(data: AuditData) -> list[dict]:
    """Active users who have never logged in."""
    users = active_users(data)
    users = users.assign(age=data.days_since(users["created"]))
    never = users[users["last_login"].isna()]
    return [_user(r, f"never logged in; account created {_days(r.age)}",
                  "Confirm the person still needs access; delete the account or resend the invitation.")
            for r in never.itertuples(index=False)]


def users_inactive(data: AuditData, days: int = STALE_LOGIN_DAYS) -> list[dict]:
    """Active users whose last login is older than 90 days."""
    users = active_users(data)
    users = users.assign(idle=data.days_since(users["last_login"]))
    stale = users[(users["idle"] > days).fillna(False).astype(bool)]
    return [_user(r, f"last login {_days(r.idle)} (more than {days} days)",
                  "Disable or delete the account if the person no longer needs CloudMC.")
            for r in stale.itertuples(index=False)]


def users_without_2fa(data: AuditData) -> list[dict]:
    """Active users without two-factor authentication (high for administrators)."""
    users = active_users(data)
    users = users.assign(admin=is_admin(users))
    off = users[users["tfa_enabled"].eq(False).fillna(False).astype(bool)]
    return [_user(r, "two-factor authentication is off" + (" on an administrator" if r.admin else ""),
                  "Ask the user to enable 2FA, or require it in the organization's security settings.",
                  "high" if r.admin else None)
            for r in off.itertuples(index=False)]


def users_failed_logins(data: AuditData, threshold: int = FAILED_LOGINS) -> list[dict]:
    """Users with many failed logins (high at 10, when CloudMC locks the account)."""
    users = data.users.assign(since=data.days_since(data.users["last_failed_login"]))
    many = users[(users["failed_login_count"] >= threshold).fillna(False).astype(bool)]
    rows = []
    for r in many.itertuples(index=False):
        locked = r.failed_login_count >= LOCKOUT_FAILED_LOGINS
        detail = (f"{r.failed_login_count} failed logins, the last {_days(r.since)}"
                  + ("; the account is locked" if locked else ""))
        rows.append(_user(r, detail, "Check the activity log for a password-guessing attempt; "
                          "unlock the account (POST /users/:id/unlock) once the user is verified.",
                          "high" if locked else None))
    return rows


# -- organizations ------------------------------------------------------------------------------

def live_organizations(data: AuditData) -> pd.DataFrame:
    """Selected organizations that are not deleted."""
    orgs = data.organizations
    return orgs[~orgs["deleted"].fillna(False).astype(bool)]


def _org(row, detail: str, action: str, severity: str | None = None) -> dict:
    return {"organization_path": row.path, "organization_id": row.id, "environment_name": None,
            "subject_type": "organization", "subject_id": row.id, "subject": row.name,
            "detail": detail, "suggested_action": action, "severity": severity}


def administrators_per_org(data: AuditData, most: int = MAX_ADMINISTRATORS) -> list[dict]:
    """Organizations with users but no active administrator, or more than 3 administrators."""
    users = active_users(data)
    admins = users[is_admin(users)].groupby("organization_id").size()
    people = data.users.groupby("organization_id").size()
    rows, unread = [], data.unread("users")
    for org in live_organizations(data).itertuples(index=False):
        count, staff = int(admins.get(org.id, 0)), int(people.get(org.id, 0))
        if org.id in unread or staff == 0:
            continue
        if count == 0:
            rows.append(_org(org, f"{staff} user(s), no active administrator",
                             "Give one trusted user the Administrator role."))
        elif count > most:
            rows.append(_org(org, f"{count} administrators (more than {most})",
                             "Review who needs the Administrator role; demote the others.", "low"))
    return rows


def orgs_without_users(data: AuditData) -> list[dict]:
    """Organizations (not deleted) that have no users."""
    people = set(data.users["organization_id"].dropna())
    unread = data.unread("users")
    return [_org(o, "no users", "Add an administrator, or delete the organization if it is unused.")
            for o in live_organizations(data).itertuples(index=False)
            if o.id not in people and o.id not in unread]


def orgs_without_environments(data: AuditData) -> list[dict]:
    """Organizations (not deleted) that have no environment."""
    envs = data.environments
    live = set(envs.loc[~envs["deleted"].fillna(False).astype(bool), "organization_id"].dropna())
    unread = data.unread("environments")
    return [_org(o, "no environments",
                 "Nothing to do for a reseller or a new customer; otherwise delete it if unused.")
            for o in live_organizations(data).itertuples(index=False)
            if o.id not in live and o.id not in unread]


def deleted_orgs_with_resources(data: AuditData) -> list[dict]:
    """Deleted organizations whose environments still hold resources."""
    orgs = data.organizations[data.organizations["deleted"].fillna(False).astype(bool)]
    vms = data.instances[data.instances["state_class"] != "destroyed"]
    counts = {
        "instances": vms.groupby("organization_id", observed=True).size(),
        "volumes": data.volumes.groupby("organization_id", observed=True).size(),
        "snapshots": data.snapshots.groupby("organization_id", observed=True).size(),
        "public IPs": data.public_ips.groupby("organization_id", observed=True).size(),
    }
    gib = data.volumes.groupby("organization_id", observed=True)["size_gib"].sum()
    rows = []
    for org in orgs.itertuples(index=False):
        held = {what: int(series.get(org.id, 0)) for what, series in counts.items()}
        if not any(held.values()):
            continue
        parts = [f"{n} {what}" for what, n in held.items() if n]
        size = float(gib.get(org.id, 0) or 0)
        size_text = f" ({size:.0f} GiB of volumes)" if size else ""
        detail = "deleted, still holds " + ", ".join(parts) + size_text
        rows.append(_org(org, detail, "Finish the deletion: delete its environments (DELETE "
                                      "/environments/:id destroys their resources), or restore it."))
    return rows


def environments_without_members(data: AuditData) -> list[dict]:
    """Environments (of organizations not deleted) that have no members."""
    envs = data.environments[~data.environments["deleted"].fillna(False).astype(bool)]
    envs = envs[envs["organization_id"].isin(set(live_organizations(data)["id"]))]
    members = set(data.members["environment_id"].dropna())
    unread = data.unread_members()
    return [finding(e, "environment", subject=e.name, environment_name=e.name,
                    detail=f"no members ({e.service_code})",
                    action="Add the people who use it, or delete it if it is unused.")
            for e in envs.itertuples(index=False)
            if e.id not in members and (e.organization_id, e.name) not in unread]


# -- resources ----------------------------------------------------------------------------------

def stopped_instances(data: AuditData, days: int = STOPPED_DAYS) -> list[dict]:
    """Instances stopped for more than 30 days, or stopped since a time CloudMC does not report."""
    vms = data.instances[data.instances["state_class"] == "stopped"]
    since = _first_time(vms, STOP_TIME_COLUMNS)
    vms = vms.assign(stopped=data.days_since(since))
    keep = (vms["stopped"].isna() | (vms["stopped"] > days)).astype(bool)
    return [finding(r, "instance", detail=_stopped_detail(r),
                    action="Delete it (and its volumes) if it is no longer needed: a stopped "
                           "instance still holds storage, IPs and often quota.")
            for r in vms[keep].itertuples(index=False)]


def _stopped_detail(row) -> str:
    when = (f"for {row.stopped} days" if row.stopped is not pd.NA
            else "(CloudMC does not report since when)")
    held = f"; holds {row.vcpus} vCPU, {_gib(row.memory_gib)} GiB" if row.vcpus is not pd.NA else ""
    return f"{row.power_state} {when}{held}"


def unattached_volumes(data: AuditData, large_gib: float = LARGE_VOLUME_GIB) -> list[dict]:
    """Volumes attached to no instance (medium from 100 GiB)."""
    vols = data.volumes[~data.volumes["is_attached"].fillna(False).astype(bool)]
    vols = vols.assign(age=data.days_since(_first_time(vols, CREATED_COLUMNS)))
    return [finding(r, "volume", detail=f"{_gib(r.size_gib)} GiB, attached to nothing"
                    + (f", created {_days(r.age)}" if r.age is not pd.NA else ""),
                    action="Attach it or delete it (snapshot it first if the data matters).",
                    severity="medium" if r.size_gib is not pd.NA and r.size_gib >= large_gib else None)
            for r in vols.itertuples(index=False)]


def snapshot_taken(snapshots: pd.DataFrame) -> pd.Series:
    """When each snapshot was taken: a date column, else the name's ``_YYYYMMDDhhmmss`` suffix."""
    taken = _first_time(snapshots, CREATED_COLUMNS)
    stamps = snapshots["name"].astype("string").str.extract(SNAPSHOT_STAMP, expand=False)
    parsed = pd.to_datetime(stamps, format="%Y%m%d%H%M%S", utc=True, errors="coerce")
    return taken.fillna(parsed)


def old_snapshots(data: AuditData, days: int = SNAPSHOT_DAYS) -> list[dict]:
    """Snapshots older than 90 days."""
    snaps = data.snapshots.assign(age=data.days_since(snapshot_taken(data.snapshots)))
    old = snaps[(snaps["age"] > days).fillna(False).astype(bool)]
    return [finding(r, "snapshot", detail=f"taken {_days(r.age)}, of volume {r.volume}",
                    action="Delete it if a newer snapshot or backup covers the volume.")
            for r in old.itertuples(index=False)]


def unassigned_public_ips(data: AuditData) -> list[dict]:
    """Public IP addresses used by no instance and no network service."""
    ips = data.public_ips
    unused = [not _items(p) and not _items(i) for p, i in zip(ips["purposes"], ips["instances"], strict=True)]
    return [finding(r, "public_ip", subject=r.ip_address, detail="allocated, used by nothing",
                    action="Release it (DELETE .../publicipaddresses/:id) unless it is kept on purpose.")
            for r in ips[unused].itertuples(index=False)]


def quota_exceeded(data: AuditData) -> list[dict]:
    """Quota ceilings of organizations (not deleted) the current allocation already exceeds."""
    over = data.capacity[data.capacity["over_ceiling"].fillna(False).astype(bool)
                         & data.capacity["organization_id"].isin(set(live_organizations(data)["id"]))]
    return [{"organization_path": r.organization_path, "organization_id": r.organization_id,
             "environment_name": None, "subject_type": "quota", "subject_id": None,
             "subject": r.quota_name,
             "detail": f"{r.service_code} {r.resource}: {r.used:g} {r.unit} used, ceiling "
                       f"{r.ceiling:g} ({r.percent_used:g}%)",
             "suggested_action": "Raise the ceiling (PUT /quotas/:id) or free resources: new "
                                 "ones are refused (HTTP 400) while over."}
            for r in over.itertuples(index=False)]


# -- time axis: metrics and commitments ---------------------------------------------------------

def idle_running_instances(data: AuditData, percent: float = IDLE_PERCENT,
                           min_hours: int = IDLE_MIN_HOURS) -> list[dict]:
    """Running instances whose hourly CPU stayed under 5% (p95) over the last 14 days.

    The audit reads ``instance.cpu.utilization`` hourly averages (:func:`cmf.metrics
    <cloudmc_frames.usage.metrics>`) over the :data:`IDLE_DAYS` (14) days before ``now`` (cut to
    the hour). An instance is idle when the 95th percentile of its hourly values is under
    ``percent`` (it stayed under it 95% of its hours) and it has at least ``min_hours`` (72)
    samples, so one started yesterday is not judged. Instances whose connection measures
    nothing (descriptor flag ``supportsMetric``) are left out.
    """
    util = data.utilization
    idle = util[((util["p95"] < percent) & (util["hours"] >= min_hours)).fillna(False).astype(bool)]
    return [finding(r, "instance", detail=f"running, CPU p95 {r.p95:g}% (max {r.max:g}%) over {r.hours} "
                    f"hours; holds {_gib(r.vcpus)} vCPU, {_gib(r.memory_gib)} GiB",
                    action="Stop it, or resize it to a smaller offering; delete it if nobody uses it "
                           "(cmf.reports.utilization(...).tables['idle'] feeds an OperationForm).")
            for r in idle.itertuples(index=False)]


def unused_commitments(data: AuditData, percent: float = 100 - COMMITMENT_TOLERANCE) -> list[dict]:
    """Commitments in progress whose committed capacity is under-used so far (paid for, not used).

    One finding per committed product of an ``IN_PROGRESS`` commitment whose actual usage over the
    term so far (CloudMC's pricing report for its SKU) is under ``percent`` (98) % of the committed
    capacity (amount per hour x hours); see :mod:`.commitments`. Expired and upcoming ones are
    left out: nothing can be changed about them.
    """
    use = data.commitment_use
    under = use[(use["status"].astype("string").eq("IN_PROGRESS")
                 & (use["used_percent"] < percent)).fillna(False).astype(bool)]
    return [finding(r, "commitment", subject=r.commitment_name, subject_id=r.commitment_id,
                    detail=f"{r.sku}: {r.used_percent:g}% of {r.committed:,.0f} committed units used since "
                           f"{r.window_start:%Y-%m-%d} ({r.unused:,.0f} unused)",
                    action="Move workloads onto the committed connection, or lower the committed amount "
                           "at renewal: CloudMC bills the committed capacity whether it is used or not.")
            for r in under.itertuples(index=False)]


# -- helpers ------------------------------------------------------------------------------------

def _first_time(frame: pd.DataFrame, names: tuple[str, ...]) -> pd.Series:
    """The first of ``names`` that is a datetime column, filled from the next ones (NaT if none)."""
    result = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    for name in names:
        if name in frame and pd.api.types.is_datetime64_any_dtype(frame[name]):
            result = result.fillna(frame[name].dt.tz_convert("UTC").astype("datetime64[ns, UTC]"))
    return result


def _days(days) -> str:
    if days is None or days is pd.NA:
        return "at an unknown time"
    return "today" if days == 0 else f"{days} day{'s' if days != 1 else ''} ago"


def _gib(value) -> str:
    return "?" if value is None or value is pd.NA else f"{float(value):g}"


def _items(value) -> bool:
    """True for a non-empty list (``purposes``, ``instances``)."""
    return isinstance(value, list | tuple) and len(value) > 0


USERS = ("users",)
RESOURCES = ("environments", "instances", "volumes", "snapshots", "publicipaddresses")
BUILTIN_RULES: tuple[AuditRule, ...] = (
    AuditRule.of(users_never_logged_in, "low", needs=USERS),
    AuditRule.of(users_inactive, "medium", needs=USERS),
    AuditRule.of(users_without_2fa, "medium", needs=USERS),
    AuditRule.of(users_failed_logins, "medium", needs=USERS),
    AuditRule.of(administrators_per_org, "medium", needs=USERS),
    AuditRule.of(orgs_without_users, "low", needs=USERS),
    AuditRule.of(orgs_without_environments, "low", needs=("environments",)),
    AuditRule.of(deleted_orgs_with_resources, "high", needs=RESOURCES),
    AuditRule.of(environments_without_members, "low", needs=("environments", "environment_members")),
    AuditRule.of(stopped_instances, "low", needs=("environments", "instances")),
    AuditRule.of(unattached_volumes, "low", needs=("environments", "volumes")),
    AuditRule.of(old_snapshots, "low", needs=("environments", "snapshots")),
    AuditRule.of(unassigned_public_ips, "low", needs=("environments", "publicipaddresses")),
    AuditRule.of(quota_exceeded, "high", needs=("quotas", "environments", "instances", "volumes")),
    AuditRule.of(idle_running_instances, "low", needs=("environments", "instances", "metrics")),
    AuditRule.of(unused_commitments, "medium", needs=("commitments", "pricing")),
)
RULES = RuleRegistry(BUILTIN_RULES)  # what audit() runs when no rules= are given


def rule(name: str | None = None, *, severity: str = "medium",
         needs: tuple[str, ...] | None = None) -> Callable[[Rule], Rule]:
    """Decorator: add a rule to :data:`RULES`, so every later ``audit()`` runs it.

    ``needs``: the inputs it reads (coverage entities such as ``"users"``, ``"instances"``); a
    rule whose inputs could not be read is reported as not evaluated or partial. None: every
    input the audit reads.

    >>> @cmf.reports.rule(severity="low", needs=("instances",))             # doctest: +SKIP
    ... def huge_instances(data, vcpus=32): ...
    """
    return RULES.rule(name, severity=severity, needs=needs)
