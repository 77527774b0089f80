"""The sandbox's live data (``Store``), the per-user key table and seeded ids.

Records are kept exactly as the API serves them in lists (API-shaped dicts).
Records are copy-on-write: a mutation replaces the whole dict under
``store.lock`` so a reader that already holds a record serializes a
consistent snapshot without locking.
"""
import random
import threading
import uuid
from typing import NamedTuple

ADMIN_ROLE = "Administrator"
KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
DROP = object()  # value for Store.replace(): remove the key


class KeyInfo(NamedTuple):
    """One user's API key and what it may see (``status`` is ACTIVE or DISABLED)."""

    key: str
    user_id: str
    user_name: str
    org_id: str
    org_name: str
    role: str
    sees_descendants: bool
    status: str = "ACTIVE"


class IdFactory:
    """Seeded, lock-protected source of UUIDs, numeric ids and API keys."""

    def __init__(self, seed):
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def uuid(self):
        """A random-looking but seeded version-4 UUID string."""
        with self._lock:
            bits = self._rng.getrandbits(128)
        return str(uuid.UUID(int=bits, version=4))

    def numeric(self, digits=19):
        """A GCP-style numeric id string with ``digits`` digits."""
        with self._lock:
            return str(self._rng.randrange(10 ** (digits - 1), 10 ** digits))

    def api_key(self, length=48):
        """A seeded API key of ``length`` alphanumeric characters."""
        with self._lock:
            return "".join(self._rng.choices(KEY_ALPHABET, k=length))

    def token(self, length=16):
        """A short random string (passwords in task results)."""
        return self.api_key(length)


class Store:
    """All sandbox data, API-shaped; see the package docstring for the oracle API."""

    def __init__(self, seed=0, now=None):
        self.lock = threading.RLock()
        self.seed = seed
        self.now = now
        self.version = 0
        self.root_id = None
        self.orgs = {}
        self.users = {}
        self.environments = {}
        self.connections = {}
        self.quotas = {}
        self.quota_assignments = {}
        self.roles = {}
        self.members = {}
        self.activity = []
        self.resources = {}
        self.extras = {}
        self.tasks = {}
        self.children = {}
        self.key_index = {}
        self.user_keys = {}
        self.ids = IdFactory(seed)
        self.usage = None

    @property
    def usage_profiles(self):
        """``{instance id: "idle" | "busy" | "spiky" | "normal"}``: the metric profile the scenario drew."""
        return {inst_id: profile.kind for inst_id, profile in self.usage.profiles.items()}

    # ----------------------------------------------------------------- keys
    @property
    def keys(self):
        """Every user's ``KeyInfo`` (root administrator first)."""
        return list(self.key_index.values())

    @property
    def root_key(self):
        """The root reseller administrator's key."""
        return next(iter(self.key_index))

    def key_info(self, api_key):
        """The ``KeyInfo`` for ``api_key`` or None."""
        return self.key_index.get(api_key) if api_key else None

    def add_key(self, info):
        """Register a user's key."""
        with self.lock:
            self.key_index[info.key] = info
            self.user_keys[info.user_id] = info.key

    def set_key_status(self, user_id, status):
        """Mark a user's key ACTIVE or DISABLED."""
        with self.lock:
            key = self.user_keys.get(user_id)
            if key:
                self.key_index[key] = self.key_index[key]._replace(status=status)

    # ----------------------------------------------------------------- tree
    def subtree(self, org_id, include_deleted=False):
        """``org_id`` and its descendants, parents before children (creation order)."""
        out, stack = [], [org_id]
        while stack:
            current = stack.pop()
            org = self.orgs.get(current)
            if org is None or (org["deleted"] and not include_deleted):
                continue
            out.append(current)
            stack.extend(reversed(self.children.get(current, [])))
        return out

    def ancestors(self, org_id):
        """Ids from ``org_id``'s parent up to the root."""
        out, org = [], self.orgs.get(org_id)
        while org and "parent" in org:
            out.append(org["parent"]["id"])
            org = self.orgs.get(org["parent"]["id"])
        return out

    def visible_org_ids(self, api_key, include_deleted=False):
        """Org ids the key sees: its org plus descendants for administrators."""
        info = self.key_info(api_key)
        if info is None or info.status != "ACTIVE":
            return []
        if info.sees_descendants:
            return self.subtree(info.org_id, include_deleted)
        org = self.orgs.get(info.org_id)
        return [info.org_id] if org and (include_deleted or not org["deleted"]) else []

    # ---------------------------------------------------------------- lookups
    def env_by_name(self, org_id, name):
        """The environment named ``name`` in ``org_id`` or None."""
        for env in self.environments.values():
            if env["organization"]["id"] == org_id and env["name"] == name:
                return env
        return None

    def connection_by_code(self, service_code):
        """The service connection with ``serviceCode`` or None."""
        for conn in self.connections.values():
            if conn["serviceCode"] == service_code:
                return conn
        return None

    def env_connection(self, env):
        """The connection record an environment is bound to."""
        return self.connections[env["serviceConnection"]["id"]]

    def resource_count(self):
        """Total number of service resources across all environments and types."""
        return sum(len(items) for per_env in self.resources.values() for items in per_env.values())

    def touch(self):
        """Bump the data version (call under ``lock`` after a mutation)."""
        self.version += 1

    def replace(self, collection, record_id, **changes):
        """Copy-on-write update of ``collection[record_id]``; the value ``DROP`` deletes the key."""
        with self.lock:
            record = dict(collection[record_id])
            for key, value in changes.items():
                if value is DROP:
                    record.pop(key, None)
                else:
                    record[key] = value
            collection[record_id] = record
            self.touch()
            return record
