"""Storage of the accounts directory, and the shape of the values its columns hold."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Double, ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mediation.domain.commands import CONTROL_CHARACTERS
from mediation.domain.errors import InvalidFieldError
from mediation.domain.values import Role
from mediation.sealing import SEALED_LENGTH

CODE_LENGTH = 32
NAME_LENGTH = 200
USERNAME_LENGTH = 64
PASSWORD_HASH_LENGTH = 255
SIGN_IN_KEY_LENGTH = 160  # "user:", a username, "@" and an address of up to 64 characters
# `rules` is the automated escalation actor: never a person who signs in.
STAFF_ROLES = tuple(role for role in Role if role is not Role.RULES)
_CODE = re.compile(rf"[A-Za-z0-9_-]{{1,{CODE_LENGTH}}}")
_USERNAME = re.compile(rf"[A-Za-z0-9_.-]{{1,{USERNAME_LENGTH}}}")


class AccountsBase(DeclarativeBase):
    """Declarative base of the accounts tables, kept apart from any other table set."""


class CenterRow(AccountsBase):
    __tablename__ = "centers"

    code: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    parent_code: Mapped[str | None] = mapped_column(
        String(CODE_LENGTH), ForeignKey("centers.code"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UserRow(AccountsBase):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN (" + ", ".join(f"'{role.value}'" for role in STAFF_ROLES) + ")",
            name="users_role_is_staff",
        ),
    )

    username: Mapped[str] = mapped_column(String(USERNAME_LENGTH), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    center_code: Mapped[str] = mapped_column(
        String(CODE_LENGTH), ForeignKey("centers.code"), index=True
    )
    # sha256 hex of the API token; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    # argon2id hash (PHC string) of the password for signing in to the web pages; None: API only.
    password_hash: Mapped[str | None] = mapped_column(String(PASSWORD_HASH_LENGTH), default=None)
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebSessionRow(AccountsBase):
    """A signed-in session of the web pages: the cookie names it; signing out ends it here,
    so a copy of the cookie is refused afterwards."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # random, from the cookie
    username: Mapped[str] = mapped_column(
        String(USERNAME_LENGTH), ForeignKey("users.username"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class SignInFailureRow(AccountsBase):
    """Failed sign-ins counted under one throttle key (a name, a name from an address, an
    address), read by every process's sign-in so that they all throttle alike."""

    __tablename__ = "sign_in_failures"

    key: Mapped[str] = mapped_column(String(SIGN_IN_KEY_LENGTH), primary_key=True)
    tries: Mapped[int]
    # Seconds since the epoch (the wall clock every process shares) when the last try began.
    last_try: Mapped[float] = mapped_column(Double, index=True)


def is_code(text: str) -> bool:
    """Whether `text` is 1-32 characters of A-Z a-z 0-9 _ - (what every center code is)."""
    return _CODE.fullmatch(text) is not None


def check_code(field: str, code: str) -> None:
    """Refuse a center code that is not 1-32 characters of A-Z a-z 0-9 _ -."""
    if not is_code(code):
        reason = f"{code!r} is not 1-{CODE_LENGTH} characters of A-Z a-z 0-9 _ -"
        raise InvalidFieldError(field, reason)


def is_username(name: str) -> bool:
    """Whether `name` is 1-64 characters of A-Z a-z 0-9 _ . - (what every username is)."""
    return _USERNAME.fullmatch(name) is not None


def check_username(username: str) -> None:
    """Refuse a username that is not 1-64 characters of A-Z a-z 0-9 _ . -."""
    if not is_username(username):
        reason = f"{username!r} is not 1-{USERNAME_LENGTH} characters of A-Z a-z 0-9 _ . -"
        raise InvalidFieldError("username", reason)


def checked_name(name: str) -> str:
    """The name without surrounding blanks; refused if blank or too long."""
    name = name.strip()
    if not name:
        raise InvalidFieldError("name", "must not be blank")
    if len(name) > NAME_LENGTH:
        raise InvalidFieldError("name", f"must be at most {NAME_LENGTH} characters")
    if CONTROL_CHARACTERS.search(name):
        raise InvalidFieldError("name", "must not contain control characters")
    return name


def staff_role(role: Role | str) -> Role:
    """The role a person may hold: any but `rules`."""
    if role in STAFF_ROLES:
        return Role(role)
    if role == Role.RULES:
        raise InvalidFieldError("role", "'rules' is reserved for the automated escalation actor")
    allowed = ", ".join(STAFF_ROLES)
    raise InvalidFieldError("role", f"{role!r} is not one of {allowed}")


class InstanceSecretRow(AccountsBase):
    """Secrets this installation made for itself on first start, shared by all its processes."""

    __tablename__ = "instance_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(SEALED_LENGTH))  # sealed when there is a key
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
