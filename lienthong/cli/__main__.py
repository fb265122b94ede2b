"""``python -m lienthong.cli``: the same as the ``lienthong`` command."""

from lienthong.cli.app import main

main()
