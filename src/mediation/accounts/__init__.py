"""The accounts directory: centers, staff users, their API tokens and sign-in passwords."""

from mediation.accounts.directory import Center, Directory, Principal, User
from mediation.accounts.passwords import Passwords, SignInThrottledError
from mediation.accounts.tables import AccountsBase
from mediation.accounts.throttle import Failures, Throttle, Unlocked

__all__ = [
    "AccountsBase",
    "Center",
    "Directory",
    "Failures",
    "Passwords",
    "Principal",
    "SignInThrottledError",
    "Throttle",
    "Unlocked",
    "User",
]
