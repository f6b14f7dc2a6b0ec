"""The accounts directory: centers in their hierarchy, staff users and their API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Engine, Table, bindparam, delete, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mediation.accounts.passwords import Passwords, SignInThrottledError, stamp
from mediation.accounts.tables import (
    PASSWORD_HASH_LENGTH,
    AccountsBase,
    CenterRow,
    InstanceSecretRow,
    UserRow,
    WebSessionRow,
    check_code,
    check_username,
    checked_name,
    is_code,
    is_username,
    staff_role,
)
from mediation.accounts.throttle import Throttle, Unlocked, names_waiting, sign_in_keys, unlock_name
from mediation.domain.errors import DuplicateError, NotFoundError
from mediation.domain.values import Role
from mediation.sealing import Sealer, seal_stored, widen_for_sealing

TOKEN_PREFIX = "med_"
# A web session ends this long after signing in, however busy: a working day and some.
SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class Center:
    code: str
    name: str
    parent: str | None


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    center: str
    disabled: bool


@dataclass(frozen=True)
class Principal:
    """Who an API token belongs to: an enabled user, in a role, at a center."""

    username: str
    role: Role
    center: str


class Directory:
    """Centers, users and tokens, kept in SQLAlchemy tables beside the event store."""

    def __init__(
        self,
        engine: Engine,
        passwords: Passwords | None = None,
        throttle: Throttle | None = None,
        sealer: Sealer | None = None,
    ) -> None:
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.passwords = passwords or Passwords()
        self.throttle = throttle or Throttle(engine)
        self.sealer = sealer or Sealer()  # the instance secrets as stored

    def instance_secret(self, name: str) -> str:
        """A random secret made once per installation and kept in its database (first one
        wins), sealed there when the store has a key (see `mediation.sealing`)."""
        with Session(self._engine) as session:
            found = session.get(InstanceSecretRow, name)
            if found is not None:
                return self.sealer.open(found.value)
            secret = secrets.token_urlsafe(48)
            made = InstanceSecretRow(
                name=name, value=self.sealer.seal(secret), created_at=datetime.now(UTC)
            )
            session.add(made)
            try:
                session.commit()
            except IntegrityError:  # another process made it first: use theirs
                session.rollback()
                theirs = session.get(InstanceSecretRow, name, populate_existing=True)
                assert theirs is not None
                return self.sealer.open(theirs.value)
            return secret

    def seal_instance_secrets(self) -> int:
        """Seal the instance secrets stored plainly, when there is a key (see
        `sealing.seal_stored`); how many."""
        table = cast(Table, InstanceSecretRow.__table__)
        with self._engine.begin() as conn:
            return seal_stored(conn, self.sealer, table.c.name, table.c.value)

    def create_schema(self) -> None:
        """Create the accounts tables that do not exist yet, and columns added since."""
        AccountsBase.metadata.create_all(self._engine)
        with self._engine.begin() as conn:  # made when the secrets were plain
            widen_for_sealing(conn, InstanceSecretRow.__tablename__, "value")
        columns = {column["name"] for column in inspect(self._engine).get_columns("users")}
        if "password_hash" not in columns:
            # Databases made before passwords existed: the one column added since.
            with self._engine.begin() as conn:
                conn.execute(
                    text(
                        f"ALTER TABLE users ADD COLUMN password_hash VARCHAR({PASSWORD_HASH_LENGTH})"
                    )
                )

    def add_center(self, code: str, name: str, parent: str | None = None) -> Center:
        check_code("code", code)
        name = checked_name(name)
        if parent is not None:
            check_code("parent", parent)
        with self._sessions.begin() as session:
            if session.get(CenterRow, code) is not None:
                raise DuplicateError(f"center {code!r} already exists")
            if parent is not None:
                _center_row(session, parent)
            row = CenterRow(code=code, name=name, parent_code=parent, created_at=_now())
            _insert(session, row, f"center {code!r} already exists")
            return _center(row)

    def add_user(
        self, username: str, role: Role | str, center: str, password: str | None = None
    ) -> tuple[User, str]:
        """Add a user and return it with its API token, the only time the token is shown."""
        check_username(username)
        checked_role = staff_role(role)
        check_code("center", center)
        password_hash = self.passwords.hash(password) if password is not None else None
        token = _new_token()
        with self._sessions.begin() as session:
            if session.get(UserRow, username) is not None:
                raise DuplicateError(f"user {username!r} already exists")
            _center_row(session, center)
            row = UserRow(
                username=username,
                role=checked_role.value,
                center_code=center,
                token_hash=_hash(token),
                password_hash=password_hash,
                disabled=False,
                created_at=_now(),
            )
            _insert(session, row, f"user {username!r} already exists")
            return _user(row), token

    def disable_user(self, username: str) -> None:
        with self._sessions.begin() as session:
            _user_row(session, username).disabled = True

    def new_token(self, username: str) -> str:
        """Give the user a new API token; the old one stops working."""
        token = _new_token()
        with self._sessions.begin() as session:
            _user_row(session, username).token_hash = _hash(token)
        return token

    def authenticate(self, token: str) -> Principal | None:
        """The enabled user this token belongs to, or None."""
        digest = _hash(token)
        with self._engine.connect() as conn:
            row = conn.execute(_BY_TOKEN, {"digest": digest}).first()
        if row is None or row.disabled or not hmac.compare_digest(row.token_hash, digest):
            return None
        return Principal(row.username, Role(row.role), row.center_code)

    def set_password(self, username: str, password: str) -> None:
        """Give the user a (new) password for the web pages; their open sessions end."""
        password_hash = self.passwords.hash(password)
        with self._sessions.begin() as session:
            _user_row(session, username).password_hash = password_hash

    def verify_password(
        self, username: str, password: str, source: str | None = None
    ) -> Principal | None:
        """The enabled user with this name and password, or None.

        Repeated failures for the name from one address, or from the `source` address for any
        name, slow further tries: SignInThrottledError says how long to wait, without checking
        the password. Failures for the name from everywhere slow it too, but only after
        NAME_FREE_FAILURES (`throttle`): one address guessing at a name does not keep its user
        out. The failures are counted in the database, for every process alike.
        """
        keys = sign_in_keys(username, source, self.throttle.free)
        wait = self.throttle.attempt(keys)  # counted as failed until it succeeds
        if wait > 0:
            raise SignInThrottledError(wait)
        row = None
        if is_username(username):  # no other name exists (and a NUL would fail on PostgreSQL)
            with self._sessions() as session:
                row = session.get(UserRow, username)
        stored = row.password_hash if row is not None else None
        # Always verify, against a decoy when there is no hash: an unknown name costs as much.
        if not self.passwords.matches(stored, password) or row is None or row.disabled:
            return None
        self.throttle.succeeded(list(keys))
        if stored is not None and self.passwords.needs_rehash(stored):
            self.set_password(username, password)
        return Principal(row.username, Role(row.role), row.center_code)

    def unlock(self, username: str, address: str | None = None) -> Unlocked:
        """Forget the failed sign-ins of the user's name, from everywhere and from each address,
        and with `address` those of that address for any name. NotFoundError, forgetting
        nothing, for an unknown user."""
        with self._sessions() as session:
            _user_row(session, username)
        return unlock_name(self.throttle, username, address)

    def throttled_names(self) -> set[str]:
        """The (casefolded) names whose sign-ins must wait now, from everywhere or some address."""
        return names_waiting(self.throttle)

    def password_stamp(self, username: str) -> str | None:
        """A fingerprint of the user's current password, for sessions; None without one."""
        with self._sessions() as session:
            row = session.get(UserRow, username)
        if row is None or row.password_hash is None:
            return None
        return stamp(row.password_hash)

    def open_session(self, username: str) -> str:
        """Record a new web session of the user (signed in just now); its id, for the cookie.
        The user's sessions ended or past SESSION_LIFETIME are forgotten meanwhile."""
        now = datetime.now(UTC)
        session_id = secrets.token_urlsafe(32)
        with self._sessions.begin() as session:
            session.execute(
                delete(WebSessionRow).where(
                    WebSessionRow.username == username,
                    (WebSessionRow.ended_at.is_not(None))
                    | (WebSessionRow.started_at < now - SESSION_LIFETIME),
                )
            )
            session.add(WebSessionRow(id=session_id, username=username, started_at=now))
        return session_id

    def end_session(self, session_id: str) -> None:
        """Signing out: the session's cookie, or any copy of it, is refused from now on."""
        with self._sessions.begin() as session:
            row = session.get(WebSessionRow, session_id)
            if row is not None and row.ended_at is None:
                row.ended_at = datetime.now(UTC)

    def session_principal(
        self, username: str, password_stamp: str, session_id: str
    ) -> Principal | None:
        """The user a session belongs to: while the session is open (not signed out, younger
        than SESSION_LIFETIME), the user enabled and on the password it signed in with."""
        with self._sessions() as session:
            row = session.get(UserRow, username)
            open_session = session.get(WebSessionRow, session_id)
        if row is None or row.disabled or row.password_hash is None:
            return None
        if not hmac.compare_digest(stamp(row.password_hash), password_stamp):
            return None
        if open_session is None or open_session.username != username:
            return None
        started = open_session.started_at.replace(tzinfo=open_session.started_at.tzinfo or UTC)
        if open_session.ended_at is not None or datetime.now(UTC) - started > SESSION_LIFETIME:
            return None
        return Principal(row.username, Role(row.role), row.center_code)

    def center(self, code: str) -> Center | None:
        """The center of this code; None for none, and for text no code can be (not looked up:
        a NUL, say, would fail on PostgreSQL)."""
        if not is_code(code):
            return None
        with self._engine.connect() as conn:
            row = conn.execute(_CENTER, {"code": code}).first()
        return None if row is None else Center(row.code, row.name, row.parent_code)

    def user(self, username: str) -> User | None:
        """The user of this name; None for none, and for text no username can be."""
        if not is_username(username):
            return None
        with self._sessions() as session:
            row = session.get(UserRow, username)
        return None if row is None else _user(row)

    def parent_of(self, code: str) -> str | None:
        """The center one level up, or None at the top; NotFoundError for an unknown center."""
        with self._sessions() as session:
            return _center_row(session, code).parent_code

    def centers_within(self, code: str) -> frozenset[str]:
        """The center and every center below it, at any depth; NotFoundError if unknown."""
        top = select(CenterRow.code).where(CenterRow.code == code).cte("tree", recursive=True)
        below = select(CenterRow.code).join(top, CenterRow.parent_code == top.c.code)
        tree = top.union_all(below)
        with self._sessions() as session:
            codes = frozenset(session.scalars(select(tree.c.code)))
        if not codes:
            raise NotFoundError(f"center {code!r} not found")
        return codes

    def is_within(self, code: str, root: str) -> bool:
        """Whether `code` is `root` or somewhere below it."""
        return code in self.centers_within(root)

    def is_mediator_of(self, username: str, center: str) -> bool:
        """Whether the user is an enabled mediator at exactly this center."""
        with self._engine.connect() as conn:
            found = conn.execute(_MEDIATOR, {"username": username, "center": center})
            return found.first() is not None

    def list_centers(self) -> list[Center]:
        with self._sessions() as session:
            rows = session.scalars(select(CenterRow).order_by(CenterRow.code))
            return [_center(row) for row in rows]

    def list_users(self, center: str | None = None) -> list[User]:
        """Every user, or those at exactly this center; ordered by username."""
        query = select(UserRow).order_by(UserRow.username)
        with self._sessions() as session:
            if center is not None:
                _center_row(session, center)
                query = query.where(UserRow.center_code == center)
            return [_user(row) for row in session.scalars(query)]


def _center_row(session: Session, code: str) -> CenterRow:
    row = session.get(CenterRow, code)
    if row is None:
        raise NotFoundError(f"center {code!r} not found")
    return row


def _user_row(session: Session, username: str) -> UserRow:
    row = session.get(UserRow, username)
    if row is None:
        raise NotFoundError(f"user {username!r} not found")
    return row


def _insert(session: Session, row: AccountsBase, duplicate: str) -> None:
    # The look-up before this can lose a race with another writer; the key settles it.
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise DuplicateError(duplicate) from None


def _center(row: CenterRow) -> Center:
    return Center(row.code, row.name, row.parent_code)


def _user(row: UserRow) -> User:
    return User(row.username, Role(row.role), row.center_code, row.disabled)


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


# The reads on every request, built once (each statement's cache key is kept on it): an ORM
# session per request cost a quarter of a request's work (bench/results.md).
_BY_TOKEN = select(
    UserRow.username, UserRow.role, UserRow.center_code, UserRow.disabled, UserRow.token_hash
).where(UserRow.token_hash == bindparam("digest"))
_CENTER = select(CenterRow.code, CenterRow.name, CenterRow.parent_code).where(
    CenterRow.code == bindparam("code")
)
_MEDIATOR = select(UserRow.username).where(
    UserRow.username == bindparam("username"),
    UserRow.role == Role.MEDIATOR.value,
    UserRow.center_code == bindparam("center"),
    UserRow.disabled.is_(False),
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)
