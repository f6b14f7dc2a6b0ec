"""The accounts directory: centers, staff users, their API tokens and sign-in passwords."""

from mediation.accounts.directory import Center, Directory, Principal, User
from mediation.accounts.passwords import Passwords, SignInThrottledError, Throttle
from mediation.accounts.tables import AccountsBase

__all__ = [
    "AccountsBase",
    "Center",
    "Directory",
    "Passwords",
    "Principal",
    "SignInThrottledError",
    "Throttle",
    "User",
]
