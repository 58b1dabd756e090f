"""Strict e-mail addresses: every address we store or send to is checked here, once.

Mail is untrusted: a From header, a liaison form's 电子邮箱 field or a roster line can hold
anything (`x@evil.test<y@evil.test>`, a CR/LF, 2 KB of text). `check_address` accepts only a
plain `local@domain` that every mail header and every SMTP server takes as it is:

- at most 254 characters (RFC 5321 path limit), local part at most 64;
- the local part a dot-atom of ASCII letters, digits and ``!#$%&'*+-/=?^_`{|}~`` (no quoted
  local parts, no spaces, no comments, no angle brackets);
- the domain two or more labels of letters, digits and hyphens (1 to 63 each, no hyphen at
  either end), or an internationalised domain that IDNA turns into such labels;
- lower-cased.

Anything else raises `BadAddress` with a short English reason. The checks run on a string
of bounded length with character sets only: no backtracking.
"""

from __future__ import annotations

import string

__all__ = ["BadAddress", "base_address", "check_address", "valid_address"]

MAX_ADDRESS = 254
MAX_LOCAL = 64
MAX_LABEL = 63

_ATEXT = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")
_LDH = frozenset(string.ascii_lowercase + string.digits + "-")


class BadAddress(ValueError):
    """An address refused by `check_address`; str() is the reason."""


def check_address(value: str) -> str:
    """The address, lower-cased, or `BadAddress` naming what is wrong with it."""
    if not isinstance(value, str):
        raise BadAddress("not text")
    if len(value) > 4 * MAX_ADDRESS:
        raise BadAddress(f"too long ({len(value)} characters)")
    addr = value.strip()
    if not addr:
        raise BadAddress("empty")
    if len(addr) > MAX_ADDRESS:
        raise BadAddress(f"too long ({len(addr)} characters, at most {MAX_ADDRESS})")
    if addr.count("@") != 1:
        raise BadAddress("must contain exactly one @")
    local, domain = addr.split("@")
    if not local:
        raise BadAddress("nothing before the @")
    if len(local) > MAX_LOCAL:
        raise BadAddress(f"local part too long (at most {MAX_LOCAL} characters)")
    bad = sorted({c for c in local if c not in _ATEXT and c != "."})
    if bad:
        raise BadAddress(f"character {bad[0]!r} not allowed before the @")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise BadAddress("misplaced dot before the @")
    return f"{local.lower()}@{_check_domain(domain)}"


def _check_domain(domain: str) -> str:
    if not domain:
        raise BadAddress("nothing after the @")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise BadAddress("domain is not a valid internationalised name") from None
    domain = domain.lower()
    if domain.endswith("."):
        domain = domain[:-1]
    labels = domain.split(".")
    if len(labels) < 2:
        raise BadAddress("domain needs a dot (name.tld)")
    for label in labels:
        if not label:
            raise BadAddress("empty label in the domain")
        if len(label) > MAX_LABEL:
            raise BadAddress(f"domain label longer than {MAX_LABEL} characters")
        bad = sorted({c for c in label if c not in _LDH})
        if bad:
            raise BadAddress(f"character {bad[0]!r} not allowed in the domain")
        if label.startswith("-") or label.endswith("-"):
            raise BadAddress("domain label starts or ends with a hyphen")
    if labels[-1].isdigit():
        raise BadAddress("domain is a bare IP address")
    return domain


def valid_address(value: str | None) -> str | None:
    """The checked address, or None when `value` is empty or refused."""
    if not value:
        return None
    try:
        return check_address(value)
    except BadAddress:
        return None


def base_address(address: str) -> str:
    """The mailbox behind sub-address tags: `unit+ad1@x.cn` and `unit+ad2@x.cn` are one
    `unit@x.cn` (used to count receipts per real mailbox, never to send)."""
    local, _, domain = address.lower().partition("@")
    return f"{local.split('+', 1)[0] or local}@{domain}"
