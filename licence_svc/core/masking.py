"""Masking of personal data for anything the public sees."""

from __future__ import annotations


def mask_name(name: str) -> str:
    """张三 → 张*, 张小三 → 张*三; organisation names keep two characters at each end."""
    n = len(name)
    if n <= 1:
        return name
    if n == 2:
        return name[0] + "*"
    if n <= 6:
        return name[0] + "*" * (n - 2) + name[-1]
    return name[:2] + "****" + name[-2:]  # fixed width: bounded in the QR, and hides the length


def mask_number(number: str) -> str:
    """Keep the first 4 and last 4 characters of an ID number or credit code: 1101**********1234."""
    if len(number) <= 8:
        return number[:1] + "*" * (len(number) - 1)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]
