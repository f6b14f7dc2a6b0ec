"""The accounts directory: centers, staff users and their API tokens."""

from mediation.accounts.directory import Center, Directory, Principal, User
from mediation.accounts.tables import AccountsBase

__all__ = ["AccountsBase", "Center", "Directory", "Principal", "User"]
