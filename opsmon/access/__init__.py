"""Who may do what: users, roles, sign-in with rate limiting, period locks and the audit log.

The dashboard and the CLI take a :class:`User` from here and pass its ``scope``
to the indicator and ingest APIs; nothing below the dashboard knows about
sessions. Depends on ``sql`` tables only.
"""

from opsmon.access.audit import record, search
from opsmon.access.roles import ROLES, Role
from opsmon.access.signin import SignIn, sign_in
from opsmon.access.users import (
    User,
    UserError,
    add_user,
    get_user,
    list_users,
    set_disabled,
    set_password,
)

__all__ = ["ROLES", "Role", "SignIn", "User", "UserError", "add_user", "get_user", "list_users", "record",
           "search", "set_disabled", "set_password", "sign_in"]
