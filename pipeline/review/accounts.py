"""Reviewer accounts, their roles and their login sessions, in the home folder's SQLite file.

Passwords are kept only as argon2 hashes (argon2-cffi). Every guess is counted before its
password is checked, in one atomic SQLite update, so guesses sent in parallel are counted too:
after ``lockout_after`` wrong ones in a row the account refuses every password, right or wrong,
for ``lockout_minutes``. Each client address also has a budget of ``client_lockout_after`` wrong
passwords per ``lockout_minutes``, whatever names it tries; kept below ``lockout_after``, one
client alone cannot lock anyone out. A failed login looks the same whether the name exists,
is disabled or locked, or not (the same work, answer and delay). A session is a random ID kept
server-side (only its SHA-256 is stored), so logging out, disabling an account or expiry ends
it even if someone kept the cookie.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .. import config
from ..config import Settings, SettingsError
from ..store import Store, now

log = logging.getLogger(__name__)

ROLES = ("reviewer", "press", "admin")
# What each role may do; each role can do everything the ones before it can.
RIGHTS = {
    "reviewer": {"edit"},
    "press": {"edit", "withhold", "export"},
    "admin": {"edit", "withhold", "export", "accounts"},
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS review_accounts (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    language TEXT,                  -- the interface language this person chose
    failures INTEGER NOT NULL DEFAULT 0,   -- wrong passwords in a row
    locked_until REAL,              -- epoch seconds
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS review_sessions (
    id_sha256 TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES review_accounts(name),
    created_at TEXT NOT NULL,
    expires_at REAL NOT NULL        -- epoch seconds
);
CREATE TABLE IF NOT EXISTS review_clients (
    client TEXT PRIMARY KEY,        -- the address logins come from
    failures INTEGER NOT NULL,      -- wrong passwords (and checks under way) since ``since``
    since REAL NOT NULL             -- epoch seconds: the start of this client's window
);
CREATE TABLE IF NOT EXISTS review_keys (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says what to do."""


@dataclass(frozen=True)
class Policy:
    """Login limits from ``[review]`` in testimony.toml."""

    login_delay_seconds: float = 1.0  # added per wrong password from a client (capped at 10 times)
    lockout_after: int = 10  # wrong passwords in a row that lock an account
    lockout_minutes: float = 15.0
    session_hours: float = 12.0
    client_lockout_after: int = 5  # wrong passwords one client address may send per window


def load_policy(settings: Settings) -> Policy:
    """Read ``[review]`` from the settings file (kept here so config.py stays about the pipeline)."""
    path = settings.home / config.SETTINGS_FILE
    raw = {}
    if path.exists():
        raw = config.tomllib.loads(path.read_text(encoding="utf-8")).get("review", {})
    try:
        policy = Policy(
            **{k: type(getattr(Policy, k))(v) for k, v in raw.items() if hasattr(Policy, k)}
        )
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{path}: [review] holds a value that is not a number: {exc}") from None
    if policy.lockout_after < 1 or policy.client_lockout_after < 1 or policy.session_hours <= 0:
        raise SettingsError(
            f"{path}: [review] lockout_after and client_lockout_after must be at "
            f"least 1 and session_hours above 0"
        )
    return policy


# [review] in testimony.toml, as docs/settings.md lists it (defaults read from Policy).
REVIEW_SETTINGS_DOCS: tuple[config.Documented, ...] = (
    config.Documented(
        "review",
        "login_delay_seconds",
        "login_delay_seconds",
        "Added to a failed login's answer per wrong password from the same client "
        "address (up to 10 times this).",
        "[review]\nlogin_delay_seconds = 2.5",
    ),
    config.Documented(
        "review",
        "lockout_after",
        "lockout_after",
        "Wrong passwords in a row before an account locks.",
        "[review]\nlockout_after = 5",
    ),
    config.Documented(
        "review",
        "lockout_minutes",
        "lockout_minutes",
        "How long a locked account refuses every password (a new password from "
        "`testimony reviewers passwd` unlocks it at once).",
        "[review]\nlockout_minutes = 60",
    ),
    config.Documented(
        "review",
        "client_lockout_after",
        "client_lockout_after",
        "Wrong passwords one client address may send per `lockout_minutes`, "
        "whatever names it tries; kept below `lockout_after` so that one client "
        "cannot lock anyone out.",
        "[review]\nclient_lockout_after = 3",
    ),
    config.Documented(
        "review",
        "session_hours",
        "session_hours",
        "A login session ends after this long.",
        "[review]\nsession_hours = 8",
    ),
)


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    active: bool
    language: str | None
    failures: int
    locked_until: float | None

    def may(self, right: str) -> bool:
        return right in RIGHTS[self.role]


@dataclass(frozen=True)
class Login:
    """The outcome of a password check: ``account`` when it succeeded, else why not."""

    account: Account | None
    client_failures: int = 0  # this client's wrong passwords in its window, this one included
    client_blocked_until: float | None = None  # set when the client has used up its budget


def _sid_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Accounts:
    """Accounts and sessions of one home folder; one instance per thread (SQLite connection)."""

    _hasher = PasswordHasher()
    _dummy: str | None = None

    def __init__(self, settings: Settings, policy: Policy | None = None):
        self.store = Store(settings.database)
        self.db = self.store.db
        self.db.executescript(SCHEMA)
        self.policy = policy or load_policy(settings)

    def close(self) -> None:
        self.store.close()

    # Accounts -------------------------------------------------------------------------
    def _account(self, row: sqlite3.Row | None) -> Account | None:
        if row is None:
            return None
        return Account(
            row["name"],
            row["role"],
            bool(row["active"]),
            row["language"],
            row["failures"],
            row["locked_until"],
        )

    def get(self, name: str) -> Account | None:
        return self._account(
            self.db.execute("SELECT * FROM review_accounts WHERE name=?", (name,)).fetchone()
        )

    def list(self) -> list[Account]:
        return [
            self._account(r) for r in self.db.execute("SELECT * FROM review_accounts ORDER BY name")
        ]

    def any(self) -> bool:
        """Whether any account exists: with none, the page keeps its single-token mode."""
        return self.db.execute("SELECT 1 FROM review_accounts LIMIT 1").fetchone() is not None

    def add(self, name: str, role: str, password: str) -> Account:
        name = name.strip()
        if not name or len(name) > 64 or any(ch.isspace() and ch != " " for ch in name):
            raise AccountError("an account name is 1 to 64 characters, on one line")
        if role not in ROLES:
            raise AccountError(f"role {role!r} is not one of {', '.join(ROLES)}")
        self._check_password(password)
        if self.get(name) is not None:
            raise AccountError(
                f"account {name!r} exists already; change its password with "
                f"`testimony reviewers passwd {name}`"
            )
        stamp = now()
        self.db.execute(
            "INSERT INTO review_accounts (name, role, password_hash, created_at, updated_at)"
            " VALUES (?,?,?,?,?)",
            (name, role, self._hasher.hash(password), stamp, stamp),
        )
        log.info("review account %s added with role %s", name, role)
        return self.get(name)

    def _check_password(self, password: str) -> None:
        if len(password) < 8:
            raise AccountError("a password needs at least 8 characters")

    def _need(self, name: str) -> Account:
        account = self.get(name)
        if account is None:
            raise AccountError(f"no account named {name!r}; `testimony reviewers list` shows them")
        return account

    def set_password(self, name: str, password: str) -> None:
        """A new password; it also unlocks the account and ends its sessions."""
        self._need(name)
        self._check_password(password)
        self.db.execute(
            "UPDATE review_accounts SET password_hash=?, failures=0, locked_until=NULL, updated_at=?"
            " WHERE name=?",
            (self._hasher.hash(password), now(), name),
        )
        self.end_sessions(name)
        log.info("review account %s: password changed", name)

    def set_active(self, name: str, active: bool) -> None:
        """Disable (ending every live session at once) or enable an account."""
        self._need(name)
        self.db.execute(
            "UPDATE review_accounts SET active=?, updated_at=? WHERE name=?",
            (int(active), now(), name),
        )
        if not active:
            self.end_sessions(name)
        log.info("review account %s %s", name, "enabled" if active else "disabled")

    def set_language(self, name: str, language: str) -> None:
        self.db.execute("UPDATE review_accounts SET language=? WHERE name=?", (language, name))

    # Passwords ------------------------------------------------------------------------
    def _counted(self, sql: str, params: dict) -> sqlite3.Row | None:
        """One counting statement in its own write transaction, so parallel guesses queue for it."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            rows = self.db.execute(sql, params).fetchall()
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return rows[0] if rows else None

    def check(self, name: str, password: str, client: str = "local") -> Login:
        """Check a password; each guess is counted for the client and the account first."""
        clock = time.time()
        window = self.policy.lockout_minutes * 60
        spent = self._counted(
            "INSERT INTO review_clients VALUES (:client, 1, :now) ON CONFLICT(client) DO UPDATE SET"
            " failures = CASE WHEN since <= :old THEN 1 ELSE failures + 1 END,"
            " since = CASE WHEN since <= :old THEN :now ELSE since END RETURNING failures, since",
            {"client": client, "now": clock, "old": clock - window},
        )
        if spent["failures"] > self.policy.client_lockout_after:  # no name looked at: none to hide
            log.warning("review login refused: too many wrong passwords from one client")
            return Login(None, spent["failures"], spent["since"] + window)
        row = self._counted(
            "UPDATE review_accounts SET"
            " failures = CASE WHEN locked_until <= :now THEN 1 ELSE failures + 1 END,"
            " locked_until = CASE WHEN"
            " (CASE WHEN locked_until <= :now THEN 1 ELSE failures + 1 END) >= :most THEN :lock END"
            " WHERE name = :name AND active = 1 AND (locked_until IS NULL OR locked_until <= :now)"
            " RETURNING failures, locked_until, password_hash",
            {"now": clock, "most": self.policy.lockout_after, "lock": clock + window, "name": name},
        )
        if row is None:  # unknown, disabled or locked: the same work and answer as a wrong password
            self._verify(self._dummy_hash(), password)
            log.warning("review login failed: unknown, disabled or locked account name")
            return Login(None, spent["failures"])
        if self._verify(row["password_hash"], password):
            self.db.execute(
                "UPDATE review_accounts SET failures=0, locked_until=NULL WHERE name=?", (name,)
            )
            self.db.execute(  # a right password is not a guess
                "UPDATE review_clients SET failures = MAX(failures - 1, 0) WHERE client=?",
                (client,),
            )
            if self._hasher.check_needs_rehash(row["password_hash"]):
                self.db.execute(
                    "UPDATE review_accounts SET password_hash=? WHERE name=?",
                    (self._hasher.hash(password), name),
                )
            return Login(self.get(name))
        log.warning(
            "review login failed: wrong password for account %s (%d in a row)%s",
            name,
            row["failures"],
            f"; locked for {self.policy.lockout_minutes:g} minutes" if row["locked_until"] else "",
        )
        return Login(None, spent["failures"])

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return self._hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    @classmethod
    def _dummy_hash(cls) -> str:
        if cls._dummy is None:
            cls._dummy = cls._hasher.hash(secrets.token_urlsafe(16))
        return cls._dummy

    def delay(self, login: Login) -> float:
        """Seconds to hold back a failed login's answer: more with each wrong one from its client."""
        return self.policy.login_delay_seconds * min(max(login.client_failures, 1), 10)

    # Sessions -------------------------------------------------------------------------
    def start_session(self, name: str) -> str:
        """A new session ID for an account (never one the browser brought: no fixation)."""
        session_id = secrets.token_urlsafe(32)
        expires = time.time() + self.policy.session_hours * 3600
        self.db.execute("DELETE FROM review_sessions WHERE expires_at < ?", (time.time(),))
        self.db.execute(
            "INSERT INTO review_sessions VALUES (?,?,?,?)",
            (_sid_hash(session_id), name, now(), expires),
        )
        return session_id

    def session(self, session_id: str) -> Account | None:
        """The live, enabled account of a session, or None if it ended, expired or was disabled."""
        row = self.db.execute(
            "SELECT review_accounts.* FROM review_sessions JOIN review_accounts ON account=name"
            " WHERE id_sha256=? AND expires_at > ? AND active=1",
            (_sid_hash(session_id), time.time()),
        ).fetchone()
        return self._account(row)

    def end_session(self, session_id: str) -> None:
        self.db.execute("DELETE FROM review_sessions WHERE id_sha256=?", (_sid_hash(session_id),))

    def end_sessions(self, name: str) -> None:
        self.db.execute("DELETE FROM review_sessions WHERE account=?", (name,))

    # Keys -------------------------------------------------------------------------------
    def key(self, name: str) -> str:
        """A secret kept in the database (cookie signing), made on first use."""
        self.db.execute(
            "INSERT OR IGNORE INTO review_keys VALUES (?,?)", (name, secrets.token_urlsafe(48))
        )
        return self.db.execute("SELECT value FROM review_keys WHERE name=?", (name,)).fetchone()[
            "value"
        ]


def locked_until_text(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="minutes")
