"""Sizes as the harnesses take them on their command lines, as sluice-gen's --bytes does."""


def parse_size(text):
    """"512M", "1G", "64K" or a number of bytes; ValueError or IndexError when it is none."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)
